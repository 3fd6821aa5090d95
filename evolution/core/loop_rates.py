"""The loop's throughput and where its time goes, from plain rows (no Django): designs made, checked,
screened and verified per hour, and the worker-seconds spent designing, checking and in each phase
of a verification.

Rates are counts over the time the run has been going, with a floor of one minute so that the first
seconds of a run do not show thousands per hour. Times are worker-seconds, summed over jobs that ran
side by side, so their total can exceed the wall time; each part's share is of that total. A
verification's phases come from its report (`wall_time_s`: data, size, train, validate, eval,
probes ...); what its job took beyond the report's total (starting the process and the sandbox,
writing the report) is `verify overhead`. A design job's time less the check it ran is `design`.
A verification still running (or stopped with the run) is not counted as screened or verified, but
the phases it went through so far (timed by its progress events) are time spent, and are counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MIN_SPAN_S = 60.0
SCREEN_RUNGS = frozenset({"screen"})


@dataclass(frozen=True)
class DesignRow:
    job_s: float | None  # the design job's wall time (None: the job has not finished or is unknown)
    checked: bool  # a check report exists
    passed: bool
    check_s: float | None  # the check's own seconds (from its report)


@dataclass(frozen=True)
class VerificationRow:
    rung: str
    failed: bool
    phases: Mapping[str, Any] = field(default_factory=dict)  # report["wall_time_s"], as stored
    job_s: float | None = None  # the verify job's wall time (for one in progress: up to its first phase)
    in_progress: bool = False  # not finished in the window: its phases so far count, the verification does not


def seconds(value: Any) -> float:
    """A duration from stored JSON: a finite, non-negative number, else 0 (a missing or torn value)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    value = float(value)
    return value if math.isfinite(value) and value > 0 else 0.0


def per_hour(count: int, span_s: float) -> float:
    return count * 3600.0 / max(span_s, MIN_SPAN_S)


def loop_rates(designs: Iterable[DesignRow], verifications: Iterable[VerificationRow], span_s: float) -> dict[str, Any]:
    """Counts, rates per hour and the time split of one run's `span_s` seconds."""
    designs, verifications = list(designs), list(verifications)
    span_s = seconds(span_s)
    finished = [v for v in verifications if not v.in_progress]
    screened = [v for v in finished if v.rung in SCREEN_RUNGS]
    verified = [v for v in finished if v.rung not in SCREEN_RUNGS]
    counts = {
        "made": len(designs),
        "checked": sum(d.checked for d in designs),
        "passed": sum(d.checked and d.passed for d in designs),
        "screened": len(screened),
        "screen_failed": sum(v.failed for v in screened),
        "verified": len(verified),
        "verify_failed": sum(v.failed for v in verified),
        "in_progress": len(verifications) - len(finished),
    }
    parts: dict[str, float] = {"design": 0.0, "check": 0.0}
    for d in designs:
        check = seconds(d.check_s)
        parts["check"] += check
        parts["design"] += max(0.0, seconds(d.job_s) - check)
    phases: dict[str, float] = {}
    for v in verifications:
        in_report = 0.0
        for name, value in (v.phases or {}).items():
            if name == "total":
                continue
            phases[f"verify: {name}"] = phases.get(f"verify: {name}", 0.0) + seconds(value)
            in_report += seconds(value)
        total = seconds((v.phases or {}).get("total")) or in_report
        if v.job_s is not None:
            phases["verify overhead"] = phases.get("verify overhead", 0.0) + max(0.0, seconds(v.job_s) - total)
    parts.update(sorted(phases.items(), key=lambda kv: -kv[1]))
    spent = sum(parts.values())
    return {
        "span_s": span_s,
        "counts": counts,
        "per_hour": {k: per_hour(counts[k], span_s) for k in ("made", "checked", "screened", "verified")},
        "time": [{"part": name, "seconds": s, "share": s / spent if spent else None} for name, s in parts.items()],
        "worker_seconds": spent,
    }
