"""Leaderboards: designs verified at one rung, best first, with the seeds as baselines.

Each fitness is the rung's own (recomputed by the parent) with its 95% interval; a design is called
better (or worse) than a parent only when the paired comparison at this rung says so
(`verifier.core.train.fitness.paired_comparison`: per-task differences on the same documents).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.urls import reverse

from evolution.core.ladder import chance_accuracy, ladder
from evolution.models import Design, DesignParent, Verification
from evolution.selectors.designs import LIST_FIELDS, DesignFilters, filter_designs
from evolution.selectors.fitness import rung_fitness_of, seed_noise
from verifier.core.train.fitness import Z_95, Comparison, paired_comparison

ROW_FIELDS = ("id", "design_id", "rung", "status", "fitness", "fitness_stderr", "fitness_metric", "metrics",
              *(f"design__{f}" for f in LIST_FIELDS))


@dataclass
class ParentComparison:
    """This design against one parent verified at the same rung."""

    name: str
    url: str
    result: Comparison


@dataclass
class Row:
    rank: int | None
    design: Design
    url: str
    verification: Verification
    fitness: float | None
    delta: float | None  # fitness minus the best seed's
    final_loss: float | None
    scores: dict[str, float]
    baseline: bool
    params: int | None = None  # non-embedding parameters of the trained model
    stderr: float | None = None  # of `fitness`
    metric: str = ""
    vs_parents: list[ParentComparison] | None = None

    @property
    def half_width(self) -> float | None:
        """Half the 95% interval of the fitness."""
        return Z_95 * self.stderr if self.stderr is not None else None

    @property
    def trend(self) -> str:
        """"up" or "down" against the best seed as the table shows it (to 3 decimals), else ""."""
        shown = round(self.delta, 3) if self.delta is not None else 0.0
        return "up" if shown > 0 else "down" if shown < 0 else ""


def rungs_with_results() -> list[str]:
    done = set(Verification.objects.filter(status="done").values_list("rung", flat=True).distinct())
    return [r.name for r in ladder() if r.name in done] + sorted(done - {r.name for r in ladder()})


def leaderboard(rung: str, params: Mapping[str, Any] | None = None, limit: int = 100) -> dict[str, Any]:
    """Rows of the rung's leaderboard; seeds always appear (marked as baselines) whatever the filters."""
    f = DesignFilters.from_params(params or {})
    f.rung = ""  # the rung is the board itself
    qs = (Verification.objects.real().filter(rung=rung, status=Verification.Status.DONE)
          .select_related("design").only(*ROW_FIELDS))
    matching = filter_designs(Design.objects.all(), f) if f.active else None
    seeds = list(qs.filter(design__is_seed=True, design__origin_kind__in=["seed", "upload"]))
    rows_qs = qs.filter(design__in=matching) if matching is not None else qs
    rows_qs = rows_qs.order_by(F("fitness").desc(nulls_last=True), "design_id")
    entries = list(rows_qs[:limit])
    best_seed = max((s.fitness for s in seeds if s.fitness is not None), default=None)
    shown = {v.id for v in entries}
    entries += [s for s in seeds if s.id not in shown]
    entries.sort(key=lambda v: (v.fitness is None, -(v.fitness or 0.0), v.design_id))
    tasks: list[str] = sorted({t for v in entries for t in (v.metrics or {}).get("tasks", {})})
    compared = parent_comparisons(rung, entries)
    rows: list[Row] = []
    rank = 0
    url = reverse("evolution:design", args=["-slug-"])  # one reverse() for the whole table
    for v in entries:
        baseline = v.design.is_seed and v.design.origin_kind in ("seed", "upload")
        if not baseline:
            rank += 1
        rows.append(Row(
            rank=None if baseline else rank, design=v.design, url=url.replace("-slug-", v.design.slug),
            verification=v, fitness=v.fitness,
            delta=(v.fitness - best_seed) if v.fitness is not None and best_seed is not None else None,
            final_loss=(v.metrics or {}).get("final_loss"), scores=(v.metrics or {}).get("tasks", {}),
            baseline=baseline, params=(v.metrics or {}).get("params"), stderr=v.fitness_stderr,
            metric=v.fitness_metric, vs_parents=compared.get(v.design_id, []),
        ))
    return {"rung": rung, "rows": rows, "tasks": tasks, "chance": {t: chance_accuracy(t) for t in tasks},
            "best_seed": best_seed, "total": rows_qs.count(), "limit": limit}


def parent_comparisons(rung: str, entries: list[Verification]) -> dict[int, list[ParentComparison]]:
    """Per design id, the paired comparison with each of its parents verified at `rung` (2 queries)."""
    links = list(DesignParent.objects.filter(child_id__in=[v.design_id for v in entries])
                 .values_list("child_id", "parent_id", "parent__name", "parent__slug").order_by("child_id", "position"))
    parents = {v.design_id: v for v in Verification.objects.filter(
        design_id__in={p for _, p, _, _ in links}, rung=rung, status=Verification.Status.DONE,
    ).only("id", "design_id", "metrics", "fitness_metric")}
    mine = {v.design_id: v for v in entries}
    url = reverse("evolution:design", args=["-slug-"])
    out: dict[int, list[ParentComparison]] = {}
    for child, parent, name, slug in links:
        if parent not in parents:
            continue
        child_fit, parent_fit = rung_fitness_of(mine[child]), rung_fitness_of(parents[parent])
        noise = seed_noise(rung, child_fit.metric) if child_fit else None
        result = (paired_comparison(child_fit, parent_fit, noise) if child_fit and parent_fit
                  else Comparison("not comparable", reason="no per-task results stored"))
        out.setdefault(child, []).append(ParentComparison(name, url.replace("-slug-", slug), result))
    return out
