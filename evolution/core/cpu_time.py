"""CPU-seconds spent by this process and the child processes it waited for: what the cost ledger
charges a job. A worker runs one job at a time (Celery's prefork pool), so the difference over a job
is that job's own.

Children behind bubblewrap's PID namespace do not reach this process's rusage, so the sandboxed
checker reports its own CPU time (`figures.child_cpu_seconds`); `reported_child_cpu` reads it,
bounded by what the child could have used (its wall time on every core). A sandboxed verification
states its own in its report (`cpu_seconds`); `verification_cpu` adds it the same way, once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from verifier.core.cpu_time import cpu_seconds_now

__all__ = ["checks_cpu", "cpu_meter", "cpu_seconds_now", "reported_child_cpu", "verification_cpu"]


@contextmanager
def cpu_meter() -> Iterator[dict[str, float]]:
    """`with cpu_meter() as spent:` ... `spent["cpu_seconds"]` holds the CPU time of the block."""
    spent = {"cpu_seconds": 0.0}
    start = cpu_seconds_now()
    try:
        yield spent
    finally:
        spent["cpu_seconds"] = max(0.0, cpu_seconds_now() - start)


def reported_child_cpu(report: Any) -> float:
    """The sandboxed checker's own CPU time from a check report (0 when it did not say)."""
    figures = report.get("figures") if isinstance(report, dict) else None
    if not isinstance(figures, dict):
        return 0.0
    claimed, wall = figures.get("child_cpu_seconds"), figures.get("sandbox_seconds")
    if not isinstance(claimed, (int, float)) or isinstance(claimed, bool) or not claimed > 0:
        return 0.0
    bound = float(wall) * (os.cpu_count() or 1) if isinstance(wall, (int, float)) and wall > 0 else 0.0
    return min(float(claimed), bound)


def checks_cpu(reports: list[Any]) -> float:
    """The sandboxed children's CPU time over several check reports (a designer's trace)."""
    return sum(reported_child_cpu(r) for r in reports)


def verification_cpu(spent: float, report: Any, wall_s: float) -> float:
    """A verification's CPU time: what this process measured (`spent`: the verify parent and
    whatever it waited for) plus the sandboxed run's own claim from its report, bounded by
    `wall_s` on every core. Where the run was not behind a PID namespace (rlimits only) its time
    already reached `spent`, which is then at least the claim: it is not added twice."""
    claimed = report.get("cpu_seconds") if isinstance(report, dict) else None
    if not isinstance(claimed, (int, float)) or isinstance(claimed, bool) or not claimed > 0 or not wall_s > 0:
        return spent
    claimed = min(float(claimed), float(wall_s) * (os.cpu_count() or 1))
    return spent if spent >= claimed else spent + claimed
