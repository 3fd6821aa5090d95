"""One JSON shape for an event, used by the websocket stream and its replay."""

from __future__ import annotations

from typing import Any


def event_to_dict(event) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "design": event.design_id,
        "payload": event.payload,
        "created_at": event.created_at.isoformat() if event.created_at else None,
    }
