"""CPU time of this process (all its threads) and of the child processes it waited for.

One definition for every meter: the cost ledger's (evolution.core.cpu_time), and the sandboxed
checker and verification runs, which state their own because bubblewrap's PID namespace keeps it
from their parent's rusage."""

from __future__ import annotations

import resource
import time


def cpu_seconds_now() -> float:
    """User + system CPU time of this process and of its waited-for descendants so far."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime
