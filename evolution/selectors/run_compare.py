"""Runs side by side: their population curves with bands on each shared rung, Table 2's metrics over
the same number of designs, the rates, the settings diff, and per metric whether the difference to
the first run exceeds the noise (`evolution.core.run_metrics.compare`: the 95% percentile interval of
the paired bootstrap differences excludes 0)."""

from __future__ import annotations

import random
from typing import Any

from evolution.core import run_metrics as rm
from evolution.models import Design, EvolutionRun
from evolution.selectors.run_metrics import STAGES, VALID, Outcome, populations, rung_metrics, stage_outcomes

MAX_RUNS = 6


class CompareError(ValueError):
    """A comparison that cannot be made (unknown runs, too few, too many); the message says why."""


def parse_run_ids(raw: str | None) -> list[int]:
    """`?runs=3,5` → [3, 5]: two to MAX_RUNS distinct ids, in the order given."""
    parts = [p.strip() for p in (raw or "").split(",") if p.strip()]
    try:
        ids = list(dict.fromkeys(int(p) for p in parts))
    except ValueError:
        raise CompareError(f"runs must be run ids separated by commas, got {raw!r}") from None
    if len(ids) < 2:
        raise CompareError("name at least two runs to compare, e.g. ?runs=1,2")
    if len(ids) > MAX_RUNS:
        raise CompareError(f"at most {MAX_RUNS} runs can be compared at once")
    return ids


def runs_by_id(ids: list[int]) -> list[EvolutionRun]:
    found = EvolutionRun.objects.in_bulk(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise CompareError(f"no run with id {', '.join(map(str, missing))}")
    return [found[i] for i in ids]


def settings_diff(runs: list[EvolutionRun]) -> list[dict[str, Any]]:
    """The settings (and budgets) whose values differ between the runs; a key a run lacks is None."""
    dicts = [{**(r.settings or {}), "budgets": r.budgets or {}} for r in runs]
    keys = sorted(set().union(*dicts))
    return [{"setting": k, "values": [d.get(k) for d in dicts]} for k in keys
            if any(d.get(k) != dicts[0].get(k) for d in dicts[1:])]


def _valid_outcomes(run: EvolutionRun) -> list[bool]:
    return [status in VALID for status in Design.objects.real().filter(run=run).values_list("status", flat=True)]


def _rate_row(name: str, per_run: list[list[bool]], seeds: list[str], resamples: int) -> dict[str, Any]:
    values = [rm.share(sum(o), len(o)) for o in per_run]
    draws = [rm.rate_draws(o, resamples, random.Random(s)) for o, s in zip(per_run, seeds, strict=True)]
    verdicts = [None] + [rm.compare(name, values[0], values[i], draws[0], draws[i],
                                    n=min(len(per_run[0]), len(per_run[i]))).to_dict()
                         for i in range(1, len(per_run))]
    counts = [[sum(o), len(o)] for o in per_run]
    return {"metric": name, "label": rm.LABELS[name], "values": values, "counts": counts, "verdicts": verdicts,
            "cells": [{"value": v, "verdict": d, "count": c} for v, d, c in zip(values, verdicts, counts, strict=True)]}


def compare_runs(runs: list[EvolutionRun], resamples: int = rm.DEFAULT_RESAMPLES) -> dict[str, Any]:
    pops = [populations(r) for r in runs]
    shared = [k for k in pops[0] if all(k in p for p in pops[1:])]
    rungs = []
    for key in shared:
        first_n = min(len(p[key].values) for p in pops)
        per_run = [rung_metrics(r, p[key], first_n, resamples) for r, p in zip(runs, pops, strict=True)]
        rows = []
        for name in rm.METRIC_NAMES:
            values = [m["metrics"][name] for m in per_run]
            verdicts = [None] + [rm.compare(name, values[0], values[i], per_run[0]["_draws"][name],
                                            per_run[i]["_draws"][name], n=first_n).to_dict()
                                 for i in range(1, len(runs))]
            intervals = [m["intervals"][name] for m in per_run]
            rows.append({"metric": name, "label": rm.LABELS[name], "values": values, "verdicts": verdicts,
                         "intervals": intervals,
                         "cells": [{"value": v, "verdict": d, "interval": i}
                                   for v, d, i in zip(values, verdicts, intervals, strict=True)]})
        for m in per_run:
            m.pop("_draws")
        rungs.append({"key": key, "rung": per_run[0]["rung"], "metric": per_run[0]["metric"], "first_n": first_n,
                      "runs": per_run, "rows": rows})
    outcomes = [stage_outcomes(r) for r in runs]
    rates = [_rate_row("valid_design_rate", [_valid_outcomes(r) for r in runs],
                       [f"{r.id}:valid" for r in runs], resamples)]
    for stage in STAGES:
        rates.append(_rate_row(f"{stage}_error_rate", [_failed(o, stage) for o in outcomes],
                               [f"{r.id}:{stage}" for r in runs], resamples))
    return {
        "runs": [{"id": r.id, "name": r.name, "created_at": r.created_at.isoformat(), "state": r.state} for r in runs],
        "rungs": rungs, "only_some": sorted({k for p in pops for k in p} - set(shared)),
        "rates": rates, "settings_diff": settings_diff(runs), "resamples": resamples,
        "test": "bootstrap over designs (in run order) with measurement noise; 95% percentile interval of the "
                "paired differences to the first run; exceeds the noise when it excludes 0",
    }


def _failed(outcomes: list[Outcome], stage: str) -> list[bool]:
    return [o.failed for o in outcomes if o.stage == stage]
