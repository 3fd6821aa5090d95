"""The websocket endpoint `/ws/events/?after=<id>&design=<id>`.

On connect it replays what the client missed (events after `after`), then streams new ones: pushed
through the channel layer when it is shared across processes (Redis), otherwise by tailing the
events table, which works across processes in the embedded default. Either way the stream advances
in id order and waits at a missing id (a transaction that took it may not have committed yet; see
sequence.py), so no committed event is skipped and none arrives out of order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from .groups import ALL_EVENTS, design_group
from .push import layer_is_shared
from .sequence import advance
from .serialize import event_to_dict
from .watermark import newest_event_id, watermark

log = logging.getLogger(__name__)

REPLAY_LIMIT = 500
TAIL_INTERVAL_S = 0.5
WATERMARK_TIMEOUT_S = 30.0  # a stream reads the table at least this often, news or not
GAP_WAIT_S = 10.0  # longer than any transaction stays open after writing its event
# Databases whose writers take the lock before they take an id, so ids commit in order and a missing
# id never comes (SQLite: one writer at a time). Elsewhere (PostgreSQL) a missing id is waited for.
SERIALIZED_WRITERS = {"sqlite"}


def gap_wait_s() -> float:
    from django.db import connection

    return 0.0 if connection.vendor in SERIALIZED_WRITERS else GAP_WAIT_S


@database_sync_to_async
def events_after(after: int, design: int | None, limit: int = REPLAY_LIMIT) -> tuple[list[tuple[int, float]], list[dict]]:
    """(id, created-at seconds) of the events now visible after `after` (all designs: a gap is a gap
    in the one sequence), and the events among them this stream carries."""
    from evolution.models import Event

    rows = Event.objects.filter(id__gt=after).order_by("id").values_list("id", "created_at")[:limit]
    visible = [(event_id, created.timestamp()) for event_id, created in rows]
    if not visible:
        return [], []
    qs = Event.objects.filter(id__gt=after, id__lte=visible[-1][0]).order_by("id")
    if design is not None:
        qs = qs.filter(design_id=design)
    return visible, [event_to_dict(e) for e in qs]


def _int(params: dict, key: str) -> int | None:
    try:
        return int(params[key][0])
    except (KeyError, IndexError, ValueError):
        return None


class EventConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if settings.GENESYS_PRIVATE and not (user and user.is_authenticated):
            await self.close(code=4401)
            return
        params = parse_qs(self.scope.get("query_string", b"").decode())
        self.design = _int(params, "design")
        after = _int(params, "after")
        self.last_id = after if after is not None else await newest_event_id()  # every id up to it is settled
        self.gap: int | None = None  # the missing id the stream waits on
        self.lock = asyncio.Lock()
        self.groups_joined: list[str] = []
        self.tail_task: asyncio.Future | None = None
        await self.accept()
        if layer_is_shared() and self.channel_layer is not None:
            await self.replay()
            # An event committed between the replay and joining is delivered with the next push,
            # which reveals the gap (event_message).
            group = design_group(self.design) if self.design is not None else ALL_EVENTS
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        else:
            watermark().join()
            self.joined_watermark = True
            self.tail_task = asyncio.ensure_future(self.tail())
            await self.replay()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        task = getattr(self, "tail_task", None)
        if task is not None:
            task.cancel()
        if getattr(self, "joined_watermark", False):
            watermark().leave()

    async def replay(self) -> None:
        """Send what is settled after `last_id`, in id order; stop at a missing id still waited for."""
        async with self.lock:
            while True:
                visible, events = await events_after(self.last_id, self.design)
                cursor, self.gap = advance(self.last_id, visible, time.time(), gap_wait_s())
                for event in events:
                    if self.last_id < event["id"] <= cursor:
                        await self.send_json(event)
                self.last_id = cursor
                if self.gap is not None or len(visible) < REPLAY_LIMIT:
                    break
        if self.gap is not None and self.tail_task is None:
            self.tail_task = asyncio.ensure_future(self.tail(until_settled=True))

    async def tail(self, until_settled: bool = False) -> None:
        """Follow the table: in the embedded default whenever the process's watermark passes the
        cursor; while a gap is open (either deployment) every TAIL_INTERVAL_S."""
        try:
            while True:
                before = self.last_id
                if until_settled or self.gap is not None:
                    await asyncio.sleep(TAIL_INTERVAL_S)
                else:
                    await watermark().wait_past(self.last_id, timeout=WATERMARK_TIMEOUT_S)
                try:
                    await self.replay()
                except DatabaseError:  # a busy or restarting database: the next poll catches up
                    log.warning("event stream: polling the events table failed; retrying", exc_info=True)
                if self.last_id == before and self.gap is None:
                    await asyncio.sleep(TAIL_INTERVAL_S)  # never a busy loop, whatever the watermark says
                if until_settled and self.gap is None:
                    self.tail_task = None
                    return
        except asyncio.CancelledError:
            pass

    async def event_message(self, message: dict) -> None:
        event = message["event"]
        if event["id"] == self.last_id + 1 and self.gap is None and not self.lock.locked():
            self.last_id = event["id"]  # the next one in sequence: no need to ask the table
            await self.send_json(event)
        elif event["id"] > self.last_id:
            await self.replay()  # a gap, or events committed out of order: the table says what is settled

    async def receive_json(self, content, **kwargs):
        # The only client message: {"after": id} to re-sync after a missed stretch.
        after = content.get("after") if isinstance(content, dict) else None
        if isinstance(after, int) and after < self.last_id:
            self.last_id, self.gap = after, None
            await self.replay()
