"""The broadcast hook: called once per event after its transaction commits.

A no-op for now; the live-update work replaces `broadcast` with a push to the Channels layer.
Callers look the function up at call time (`broadcast.broadcast(event)`), so replacing it here is
enough.
"""

from __future__ import annotations


def broadcast(event) -> None:
    """Push a persisted `Event` to connected clients (not yet: nothing listens)."""
    return None
