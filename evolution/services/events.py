"""Write, then broadcast: every change a user should see is stored as an `Event` first and pushed to
clients only after the transaction that wrote it commits, so a client never hears of a row it
cannot read yet and a reconnecting client can replay from the last id it saw."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from evolution import broadcast as _broadcast
from evolution.models import Design, Event


def record_event(kind: str, payload: dict[str, Any], design: Design | None = None, actor=None) -> Event:
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    body = dict(payload)
    if design is not None:
        body.setdefault("design", {"id": design.id, "name": design.name, "slug": design.slug})
    if actor is not None:
        body.setdefault("actor", actor.get_username())
    event = Event.objects.create(kind=kind, payload=body, design=design, actor=actor)
    transaction.on_commit(lambda: _broadcast.broadcast(event))
    return event
