"""A run's numbers in one place: what was made, checked and verified, fitness over time, failures, what it
cost (`cost`: the ledger) and which operators and units improved on their parents (`lineage`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict
from typing import Any

from evolution.models import CheckRun, Design, EvolutionRun, Job, Verification
from evolution.selectors.backpressure import pressure
from evolution.selectors.ledger import run_cost
from evolution.selectors.lineage_stats import run_lineage
from evolution.selectors.run_metrics import run_metrics


def run_report(run: EvolutionRun, bucket_minutes: int = 5, first_n: int | None = None) -> dict[str, Any]:
    """The counts below plus the run's metrics (`evolution.selectors.run_metrics`): population fitness
    curves and Table 2's metrics per rung, error rates per stage and category, designers."""
    designs = list(Design.objects.real().filter(run=run).values("status", "origin_kind", "created_at", "failure"))
    verifications = list(
        Verification.objects.real().filter(run=run).values("rung", "status", "fitness", "finished_at", "error")
    )
    jobs = list(Job.objects.filter(run=run).values("kind", "status", "failure_category", "created_at"))
    start = min([d["created_at"] for d in designs] + [j["created_at"] for j in jobs], default=None)
    by_rung: dict[str, Counter] = defaultdict(Counter)
    for v in verifications:
        by_rung[v["rung"]][v["status"]] += 1
    timeline: dict[int, list[float]] = defaultdict(list)
    for v in verifications:
        if v["status"] == "done" and v["fitness"] is not None and start is not None:
            minute = (v["finished_at"] - start).total_seconds() / 60
            timeline[int(minute // bucket_minutes) * bucket_minutes].append(v["fitness"])
    best = float("-inf")
    over_time = []
    for minute in sorted(timeline):
        values = timeline[minute]
        best = max(best, *values)
        over_time.append({"minute": minute, "verified": len(values), "mean": sum(values) / len(values),
                          "best_so_far": best})
    failures = Counter(f"{j['kind']}:{j['failure_category']}" for j in jobs if j["status"] == "failed")
    failures.update(f"check:{category}" for category in _checker_failures(run))
    report = {
        "run": run.name,
        "designs": {"created": len(designs), **Counter(d["status"] for d in designs)},
        "verifications": {rung: dict(c) for rung, c in by_rung.items()},
        "fitness_over_time": over_time,
        "failures": dict(failures),
        "jobs": dict(Counter(f"{j['kind']}:{j['status']}" for j in jobs)),
        "metrics": run_metrics(run, bucket_minutes, first_n),
        "backpressure": _backpressure(run),
    }
    report["cost"] = run_cost(run)
    report["lineage"] = run_lineage(run)
    return report


def _backpressure(run: EvolutionRun) -> dict:
    """Whether designing or screening waits now, why, for how long, and the fixes (as on the dashboard)."""
    p = pressure(run)
    assert p is not None
    return {"designing_paused": p.designing_paused, "screening_paused": p.screening_paused, "reason": p.reason,
            "eta_s": p.eta_s, "stages": [asdict(s) for s in p.stages],
            "fixes": [{"action": f.action, "title": f.title, "changes": f.changes, "how": f.how} for f in p.fixes]}


def _checker_failures(run: EvolutionRun) -> list[str]:
    """The first error category of each invalid design's latest check (what the dashboard counts)."""
    out = []
    latest: dict[int, dict] = {}
    for row in CheckRun.objects.filter(design__run=run, design__status=Design.Status.INVALID).order_by("id") \
            .values("design_id", "report"):
        latest[row["design_id"]] = row["report"] or {}
    for report in latest.values():
        errors = [f for f in report.get("findings", []) if f.get("severity") == "error"]
        out.append(errors[0].get("category", "unknown") if errors else "unknown")
    return out
