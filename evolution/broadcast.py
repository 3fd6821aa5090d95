"""The broadcast hook: called once per event after its transaction commits.

It pushes the event to the Channels layer, so consumers in every process hear of it at once when the
layer is shared (Redis). In the embedded default there is no shared layer and `push_event` does
nothing: the websocket consumers tail the events table instead, which also sees events written by
worker processes. Callers look the function up at call time (`broadcast.broadcast(event)`), so tests
may replace it here.
"""

from __future__ import annotations


def broadcast(event) -> None:
    """Push a persisted `Event` to connected clients; never raises (a client catches up by replay)."""
    from evolution.live.push import push_event  # lazy: channels is only needed once an event is pushed

    push_event(event)
