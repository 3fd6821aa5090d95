"""CPU-seconds spent by this process and the child processes it waited for (the sandboxed checker,
the verifier): what the cost ledger charges a job. A worker runs one job at a time (Celery's
prefork pool), so the difference over a job is that job's own."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager


def cpu_seconds_now() -> float:
    """User + system CPU time of this process and of its waited-for descendants so far."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@contextmanager
def cpu_meter() -> Iterator[dict[str, float]]:
    """`with cpu_meter() as spent:` ... `spent["cpu_seconds"]` holds the CPU time of the block."""
    spent = {"cpu_seconds": 0.0}
    start = cpu_seconds_now()
    try:
        yield spent
    finally:
        spent["cpu_seconds"] = max(0.0, cpu_seconds_now() - start)
