"""The websocket endpoint `/ws/events/?after=<id>&design=<id>`.

On connect it replays what the client missed (events after `after`), then streams new ones: pushed
through the channel layer when it is shared across processes (Redis), otherwise by tailing the
events table, which works across processes in the embedded default. Clients deduplicate by id.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from .groups import ALL_EVENTS, design_group
from .push import layer_is_shared
from .serialize import event_to_dict

REPLAY_LIMIT = 500
TAIL_INTERVAL_S = 0.5


@database_sync_to_async
def events_after(after: int, design: int | None, limit: int = REPLAY_LIMIT) -> list[dict]:
    from evolution.models import Event

    qs = Event.objects.filter(id__gt=after).order_by("id")
    if design is not None:
        qs = qs.filter(design_id=design)
    return [event_to_dict(e) for e in qs[:limit]]


@database_sync_to_async
def latest_event_id() -> int:
    from evolution.models import Event

    last = Event.objects.order_by("-id").values_list("id", flat=True).first()
    return int(last or 0)


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
        self.last_id = after if after is not None else await latest_event_id()
        self.groups_joined: list[str] = []
        await self.accept()
        await self.replay()
        if layer_is_shared() and self.channel_layer is not None:
            group = design_group(self.design) if self.design is not None else ALL_EVENTS
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
            self.tail_task = None
        else:
            self.tail_task = asyncio.ensure_future(self.tail())

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        task = getattr(self, "tail_task", None)
        if task is not None:
            task.cancel()

    async def replay(self) -> None:
        while True:
            batch = await events_after(self.last_id, self.design)
            for event in batch:
                await self.send_event(event)
            if len(batch) < REPLAY_LIMIT:
                return

    async def tail(self) -> None:
        try:
            while True:
                await asyncio.sleep(TAIL_INTERVAL_S)
                await self.replay()
        except asyncio.CancelledError:
            pass

    async def send_event(self, event: dict) -> None:
        if event["id"] <= self.last_id:
            return
        self.last_id = event["id"]
        await self.send_json(event)

    async def event_message(self, message: dict) -> None:
        event = message["event"]
        if event["id"] > self.last_id + 1:
            await self.replay()  # fill a gap (events committed out of order) before this one
        await self.send_event(event)

    async def receive_json(self, content, **kwargs):
        # The only client message: {"after": id} to re-sync after a missed stretch.
        after = content.get("after") if isinstance(content, dict) else None
        if isinstance(after, int) and after < self.last_id:
            self.last_id = after
            await self.replay()
