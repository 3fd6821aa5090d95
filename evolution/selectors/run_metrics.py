"""A run's metrics from its rows: per rung, the population fitness curves (by design count and over
time) with Table 2's metrics and their noise; error rates per stage and failure category over time;
valid-design rate and attempts per designer. The formulas are `evolution.core.run_metrics`.

The population of a run is what its selection sees: the run's own designs plus the shared ones
(seeds, uploads: no run), which form the initial population. A design's fitness at a rung is the
mean of its finished verifications there (several seeds: a re-verified close call), with the standard
error of that mean. Each rung and fitness metric is its own series: fitness is comparable only there.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evolution.core import run_metrics as rm
from evolution.core.ladder import rung_index
from evolution.models import CheckRun, Design, EvolutionRun, Job, Verification

VALID = (Design.Status.CHECKED, Design.Status.VERIFYING, Design.Status.VERIFIED, Design.Status.FAILED)
STAGES = ("design", "check", "verify")


@dataclass
class RungPopulation:
    """One rung's fitness values of a run's population, in the order the run made its designs."""

    key: str  # "<rung> · <metric>"
    rung: str
    metric: str
    initial: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    stderrs: list[float | None] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    design_index: list[int] = field(default_factory=list)  # 1-based position among the run's designs
    events: list[tuple[datetime, int, float]] = field(default_factory=list)  # (finished, design id, fitness)
    shared_ids: set[int] = field(default_factory=set)


def _mean_with_se(rows: list[tuple[float, float | None]]) -> tuple[float, float | None]:
    values = [v for v, _ in rows]
    errors = [e for _, e in rows]
    mean = sum(values) / len(values)
    se = None if any(e is None for e in errors) else math.sqrt(sum(e * e for e in errors if e is not None)) / len(rows)
    return mean, se


def populations(run: EvolutionRun) -> dict[str, RungPopulation]:
    """Per rung and metric: the initial population's and the run's designs' fitness (see module doc)."""
    own = list(Design.objects.real().filter(run=run).order_by("id").values_list("id", "name"))
    shared = set(Design.objects.real().filter(run__isnull=True).values_list("id", flat=True))
    position = {design_id: i for i, (design_id, _) in enumerate(own, 1)}
    names = dict(own)
    rows = (Verification.objects.real()
            .filter(design_id__in=[*position, *shared], status=Verification.Status.DONE, fitness__isnull=False)
            .order_by("finished_at", "id")
            .values_list("design_id", "rung", "fitness_metric", "fitness", "fitness_stderr", "finished_at"))
    per: dict[tuple[str, str], dict[int, list[tuple[float, float | None]]]] = defaultdict(lambda: defaultdict(list))
    out: dict[str, RungPopulation] = {}
    for design_id, rung, metric, fitness, stderr, finished in rows:
        key = f"{rung} · {metric or 'fitness'}"
        pop = out.setdefault(key, RungPopulation(key, rung, metric or "fitness"))
        per[(rung, metric)][design_id].append((fitness, stderr))
        pop.events.append((finished, design_id, fitness))
        if design_id in shared:
            pop.shared_ids.add(design_id)
    for (rung, metric), by_design in per.items():
        pop = out[f"{rung} · {metric or 'fitness'}"]
        for design_id in sorted(by_design, key=lambda i: position.get(i, 0)):
            mean, se = _mean_with_se(by_design[design_id])
            if design_id in shared:
                pop.initial.append(mean)
            else:
                pop.values.append(mean)
                pop.stderrs.append(se)
                pop.names.append(names[design_id])
                pop.design_index.append(position[design_id])
    return dict(sorted(out.items(), key=lambda kv: (rung_index(kv[1].rung), kv[0])))


def _seed(run: EvolutionRun, key: str) -> random.Random:
    return random.Random(f"{run.id}:{key}")


def _round(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def over_time(pop: RungPopulation, start: datetime) -> dict[str, list]:
    """The population mean and max after each finished verification (a re-verification updates the
    design's value to the mean of its seeds so far); shared designs verified before the run started
    count from its start."""
    seen: dict[int, list[float]] = defaultdict(list)
    out: dict[str, list] = {"t": [], "minutes": [], "mean": [], "max": [], "n": []}
    for finished, design_id, fitness in pop.events:
        seen[design_id].append(fitness)
        when = max(finished, start) if finished else start
        current = [sum(v) / len(v) for v in seen.values()]
        out["t"].append(when.isoformat())
        out["minutes"].append(round((when - start).total_seconds() / 60, 3))
        out["mean"].append(sum(current) / len(current))
        out["max"].append(max(current))
        out["n"].append(len(current))
    return out


def rung_metrics(run: EvolutionRun, pop: RungPopulation, first_n: int | None = None,
                 resamples: int = rm.DEFAULT_RESAMPLES) -> dict[str, Any]:
    """Curves, metrics and their bootstrap for one rung of one run."""
    values = pop.values if first_n is None else pop.values[:first_n]
    stderrs = pop.stderrs[: len(values)]
    metrics = rm.curve_metrics(values, pop.initial)
    boot = rm.bootstrap(values, stderrs, pop.initial, resamples, _seed(run, pop.key))
    means = rm.cumulative_mean(values, pop.initial)
    offset = 0 if pop.initial else 1
    return {
        "key": pop.key, "rung": pop.rung, "metric": pop.metric,
        "metrics": metrics.to_dict(),
        "intervals": {name: boot.interval(name) for name in rm.METRIC_NAMES},
        "rows": [{"metric": name, "label": rm.LABELS[name], "value": getattr(metrics, name),
                  "interval": boot.interval(name)} for name in rm.METRIC_NAMES],
        "by_design": {
            "x": list(range(offset, offset + len(means))), "mean": means,
            "max": rm.cumulative_max(values, pop.initial), "band_low": boot.band_low, "band_high": boot.band_high,
            "fitness": [None] * (1 - offset) + list(values) if pop.initial else list(values),
            "name": ["initial population"] * (1 - offset) + pop.names[: len(values)],
            "design_index": [0] * (1 - offset) + pop.design_index[: len(values)],
        },
        "over_time": over_time(pop, run.created_at),
        "_draws": boot.metrics,
    }


# ---- stages and designers ---------------------------------------------------------------------------

def _first_error_categories(design_ids: list[int]) -> dict[int, str]:
    """The first error category of each design's latest check (what the dashboard counts)."""
    latest: dict[int, dict] = {}
    for design_id, report in (CheckRun.objects.filter(design_id__in=design_ids).order_by("id")
                              .values_list("design_id", "report")):
        latest[design_id] = report or {}
    out = {}
    for design_id, report in latest.items():
        errors = [f for f in report.get("findings", []) if f.get("severity") == "error"]
        out[design_id] = errors[0].get("category", "unknown") if errors else "unknown"
    return out


@dataclass
class Outcome:
    stage: str
    when: datetime | None
    failed: bool
    category: str = ""


def stage_outcomes(run: EvolutionRun) -> list[Outcome]:
    """Every attempt at each stage of the run, failed or not, with its failure category.

    design: every design job that ended; it fails when the job failed or handed back no tree.
    check: every design of the run that has a tree and was checked; it fails when invalid.
    verify: every verification the run queued that ended; it fails when failed."""
    out: list[Outcome] = []
    designs = list(Design.objects.real().filter(run=run).values("id", "status", "tree", "created_at"))
    jobs = list(Job.objects.filter(run=run, kind=Job.Kind.DESIGN, status__in=(Job.Status.DONE, Job.Status.FAILED))
                .values("status", "failure_category", "finished_at", "design_id"))
    with_tree = {d["id"] for d in designs if d["tree"]}
    for j in jobs:
        failed = j["status"] == Job.Status.FAILED or (j["design_id"] is not None and j["design_id"] not in with_tree)
        category = (j["failure_category"] or "crash") if j["status"] == Job.Status.FAILED else "no-design"
        out.append(Outcome("design", j["finished_at"], failed, category if failed else ""))
    invalid = [d["id"] for d in designs if d["status"] == Design.Status.INVALID and d["tree"]]
    categories = _first_error_categories(invalid)
    for d in designs:
        if not d["tree"] or d["status"] in (Design.Status.UNCHECKED, Design.Status.PROPOSED, Design.Status.IMPLEMENTING):
            continue
        failed = d["status"] == Design.Status.INVALID
        out.append(Outcome("check", d["created_at"], failed, categories.get(d["id"], "unknown") if failed else ""))
    verify_jobs = {j["verification_id"]: j["failure_category"] for j in
                   Job.objects.filter(run=run, kind=Job.Kind.VERIFY, status=Job.Status.FAILED)
                   .values("verification_id", "failure_category")}
    for v in (Verification.objects.real().filter(run=run, status__in=(Verification.Status.DONE, Verification.Status.FAILED))
              .values("id", "status", "finished_at", "report")):
        failed = v["status"] == Verification.Status.FAILED
        category = ""
        if failed:
            failure = (v["report"] or {}).get("failure") if isinstance(v["report"], dict) else None
            category = (failure or {}).get("category") or verify_jobs.get(v["id"]) or "unknown"
        out.append(Outcome("verify", v["finished_at"], failed, category))
    return out


def error_rates(run: EvolutionRun, outcomes: list[Outcome], bucket_minutes: int = 5) -> dict[str, Any]:
    """Per stage: attempts, errors, rate and the failure categories; the same per time bucket."""
    if bucket_minutes <= 0:
        raise ValueError("bucket_minutes must be positive")
    stages: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        mine = [o for o in outcomes if o.stage == stage]
        errors = [o for o in mine if o.failed]
        stages[stage] = {"attempts": len(mine), "errors": len(errors), "rate": rm.share(len(errors), len(mine)),
                         "categories": dict(Counter(o.category for o in errors).most_common())}
    buckets: dict[int, dict[str, Any]] = {}
    for o in outcomes:
        if o.when is None:
            continue
        i = rm.bucket_index((o.when - run.created_at).total_seconds(), bucket_minutes * 60)
        b = buckets.setdefault(i, {"minute": i * bucket_minutes, **{s: {"attempts": 0, "errors": 0} for s in STAGES},
                                   "categories": Counter()})
        b[o.stage]["attempts"] += 1
        if o.failed:
            b[o.stage]["errors"] += 1
            b["categories"][f"{o.stage}:{o.category}"] += 1
    timeline = []
    for i in sorted(buckets):
        b = buckets[i]
        for s in STAGES:
            b[s]["rate"] = rm.share(b[s]["errors"], b[s]["attempts"])
        b["categories"] = dict(b["categories"])
        timeline.append(b)
    return {"bucket_minutes": bucket_minutes, "stages": stages, "over_time": timeline}


def designer_rows(run: EvolutionRun) -> list[dict[str, Any]]:
    """Per designer (GP, each LLM configuration): designs, valid ones, the valid-design rate and the
    attempts: a design costs at least one attempt (the GP designer's one operator application), an
    LLM design its implementation attempts (`designer_metrics.attempts`)."""
    groups: dict[str, list[tuple[bool, int]]] = defaultdict(list)
    for kind, origin, status, dm in (Design.objects.real().filter(run=run)
                                     .values_list("origin_kind", "origin", "status", "designer_metrics")):
        attempts = int((dm or {}).get("attempts") or 0) if isinstance(dm, dict) else 0
        groups[rm.designer_key(kind, origin)].append((status in VALID, max(1, attempts)))
    rows = []
    for key in sorted(groups):
        items = groups[key]
        valid = [a for ok, a in items if ok]
        total_attempts = sum(a for _, a in items)
        mean, sd = rm.mean_sd([float(a) for a in valid])
        rows.append({"designer": key, "designs": len(items), "valid": len(valid),
                     "valid_rate": rm.share(len(valid), len(items)),
                     "attempts": total_attempts,
                     "attempts_per_valid": total_attempts / len(valid) if valid else None,
                     "attempts_mean_valid": mean, "attempts_sd_valid": sd})
    return rows


def run_metrics(run: EvolutionRun, bucket_minutes: int = 5, first_n: int | None = None,
                resamples: int = rm.DEFAULT_RESAMPLES) -> dict[str, Any]:
    """Everything the run page shows, JSON-ready (the bootstrap draws are dropped)."""
    full = _run_metrics(run, bucket_minutes, first_n, resamples)
    full.pop("_outcomes")
    for r in full["rungs"]:
        r.pop("_draws")
    return full


def _run_metrics(run: EvolutionRun, bucket_minutes: int, first_n: int | None, resamples: int) -> dict[str, Any]:
    outcomes = stage_outcomes(run)
    return {
        "run": run.name, "run_id": run.id, "first_n": first_n,
        "designs": Design.objects.real().filter(run=run).count(),
        "rungs": [rung_metrics(run, pop, first_n, resamples) for pop in populations(run).values()],
        "errors": error_rates(run, outcomes, bucket_minutes),
        "designers": designer_rows(run),
        "_outcomes": outcomes,
    }
