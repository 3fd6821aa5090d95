"""Push a committed event to the channel layer (Redis in production).

In the embedded default there is no cross-process channel layer: the web process's consumers tail
the events table instead (see consumers.py), so a push from a worker process is simply skipped.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from .groups import ALL_EVENTS, design_group
from .serialize import event_to_dict

log = logging.getLogger(__name__)


def layer_is_shared() -> bool:
    """Whether a group_send from this process reaches consumers in other processes."""
    return bool(settings.REDIS_URL)


def push_event(event) -> None:
    if not layer_is_shared():
        return
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "event.message", "event": event_to_dict(event)}
    try:
        async_to_sync(layer.group_send)(ALL_EVENTS, message)
        if event.design_id:
            async_to_sync(layer.group_send)(design_group(event.design_id), message)
    except Exception:  # noqa: BLE001 - the event is stored; a client catches up by replay
        log.exception("could not push event %s to the channel layer", event.id)
