"""The newest event id, polled once per interval for the whole web process (embedded default, where
websocket streams tail the events table): a stream reads the table only when something was written
after its cursor, instead of every client polling twice a second (50 clients: 100 queries a second
through the one thread that runs the consumers' database calls)."""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async
from django.db import DatabaseError

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.5


@database_sync_to_async
def newest_event_id() -> int:
    from evolution.models import Event

    last = Event.objects.order_by("-id").values_list("id", flat=True).first()
    return int(last or 0)


class Watermark:
    """Polls while at least one stream is joined; `wait_past` wakes every waiter on a new id."""

    def __init__(self, interval_s: float = POLL_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.value = 0
        self.polls = 0
        self.members = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None

    def join(self) -> None:
        self.members += 1
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._poll())

    def leave(self) -> None:
        self.members = max(0, self.members - 1)
        if self.members == 0 and self._task is not None:
            self._task.cancel()
            self._task = None

    async def wait_past(self, cursor: int, timeout: float) -> None:
        """Return once the newest id is past `cursor`, or after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.value <= cursor:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return

    async def _poll(self) -> None:
        while True:
            try:
                newest = await newest_event_id()
                self.polls += 1
            except DatabaseError:  # a busy or restarting database: the next poll catches up
                log.warning("polling the newest event id failed; retrying", exc_info=True)
                newest = self.value
            if newest != self.value:
                self.value = newest
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
            await asyncio.sleep(self.interval_s)


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Watermark] = weakref.WeakKeyDictionary()


def watermark() -> Watermark:
    """This event loop's watermark (one per web process; tests run loops of their own)."""
    loop = asyncio.get_running_loop()
    shared = _per_loop.get(loop)
    if shared is None:
        shared = _per_loop[loop] = Watermark()
    return shared
