"""How far an event stream may advance: to the first id that is missing, because a transaction that
took a lower id may still commit after a higher one (PostgreSQL hands out ids when rows are
inserted, not when they commit). The transaction holding a missing id took it before the next
visible event was written, so once that event is `wait_s` old the missing id is taken as a
rolled-back transaction's and skipped: a client gets every committed event once and in id order, and
an old gap (history, a deleted row) costs no wait."""

from __future__ import annotations


def advance(cursor: int, visible: list[tuple[int, float]], now: float, wait_s: float) -> tuple[int, int | None]:
    """The new cursor over the ascending (id, created-at seconds) visible after `cursor` (every id up
    to it is settled: delivered or given up), and the missing id it waits on (None: none)."""
    for event_id, created in visible:
        if event_id <= cursor:
            continue
        if event_id != cursor + 1 and now - created < wait_s:
            return cursor, cursor + 1
        cursor = event_id
    return cursor, None
