"""The Celery worker's consumer, made to survive the broker's loss.

When Redis goes away, Celery drops the lost connection (`collect()`, then `close()`). `collect()`
detaches kombu's transport from the connection (`transport.client = None`). Anything that later
touches a channel of that connection re-opens the channel's Redis pool, which reads
`transport.client.hostname` and raises AttributeError ("'NoneType' object has no attribute
'hostname'"). Two things do:

- closing the channel, which restores its unacknowledged messages, during the consumer's own
  clean-up of the lost connection;
- acknowledging (acks_late) a task that was running when the connection died and finishes after
  it: the ack goes to the message's old, dead channel, from the worker's event loop.

AttributeError is not a broker error, so it escapes the consumer's reconnect loop: the consumer
stops for good ("Unrecoverable error") while the worker process stays up and its pool keeps
running, and every job sent afterwards waits. Which of the two happens, if any, depends on where the
event loop was when the socket died and on whether a task outlives the outage.

This consumer logs such a failure and carries on. Nothing is lost by it: the messages it cannot
restore or acknowledge lived in the broker that went away, and each job's state is in the database:
the conductor re-sends queued jobs whose message may be lost (`jobs.resend_lost`), re-queues running
jobs that stop heartbeating (`jobs.reap_stale`), and a job is claimed once, so a message that
comes back after all (a broker with persistence) finds its job taken and does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.worker.consumer import Consumer

log = logging.getLogger(__name__)


def _from_lost_connection(settle: Callable[..., Any]) -> bool:
    """Whether `settle` (a message's ack or reject) belongs to a channel whose connection was dropped."""
    channel = getattr(getattr(settle, "__self__", None), "channel", None)
    if channel is None:
        return False
    transport = getattr(channel, "connection", None)
    return bool(getattr(channel, "closed", False)) or transport is None or getattr(transport, "client", 1) is None


def _settle(settle: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        settle(*args, **kwargs)
    except Exception:
        if not _from_lost_connection(settle):
            raise
        log.warning("a task finished after its broker connection was lost; its message cannot be "
                    "acknowledged there (the job's state is in the database)", exc_info=True)


class ResilientConsumer(Consumer):
    def on_connection_error_after_connected(self, exc):
        try:
            super().on_connection_error_after_connected(exc)
        except Exception:  # noqa: BLE001 - the connection is gone either way; reconnecting is what matters
            # Skipped with it: cancelling running tasks (off here, see settings) and the temporary
            # prefetch reduction (skipped anyway with Redis' per-consumer QoS).
            log.warning("tidying up the lost broker connection failed; reconnecting anyway", exc_info=True)
            self.connection = None

    def call_soon_ack(self, p, *args, **kwargs):
        """Acks and rejects of task messages go through here (see `create_task_handler`)."""
        return super().call_soon_ack(_settle, p, *args, **kwargs)
