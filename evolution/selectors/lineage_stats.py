"""Lineage analytics of a run and of one unit, read from the tables (see `evolution.core.lineage_stats`)."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from django.db.models import Q

from evolution.core.ladder import rung_names
from evolution.core.lineage_stats import LineageDesign, lineage_stats, unit_record
from evolution.models import Design, DesignParent, DesignUnit, EvolutionRun, Unit, Verification


def operator_label(mode: str, origin_kind: str, origin: Any) -> str:
    """The operator and who applied it: "mutation (GP)", "crossover (LLM: full)", "seed"."""
    if origin_kind == Design.OriginKind.SEED or mode == "seed":
        return "seed"
    mode = mode or "unknown"
    if origin_kind == Design.OriginKind.GP:
        return f"{mode} (GP)"
    if origin_kind == Design.OriginKind.LLM:
        ablation = origin.get("ablation") if isinstance(origin, dict) else None
        return f"{mode} (LLM: {ablation or 'full'})"
    return f"{mode} ({origin_kind})"


def lineage_designs(designs) -> list[LineageDesign]:
    rows = list(designs.values("id", "name", "run_id", "mode", "origin_kind", "origin", "fitness"))
    ids = [r["id"] for r in rows]
    parents: dict[int, list[int]] = defaultdict(list)
    for parent_id, child_id in DesignParent.objects.filter(child_id__in=ids).order_by("child_id", "position") \
            .values_list("parent_id", "child_id"):
        parents[child_id].append(parent_id)
    units: dict[int, set[str]] = defaultdict(set)
    for design_id, content_hash in DesignUnit.objects.filter(design_id__in=ids).values_list("design_id",
                                                                                            "unit__content_hash"):
        units[design_id].add(content_hash)
    per_rung: dict[tuple[int, str], list[tuple[float, float | None]]] = defaultdict(list)
    for design_id, rung, value, stderr in Verification.objects.filter(
            design_id__in=ids, status=Verification.Status.DONE, fitness__isnull=False) \
            .values_list("design_id", "rung", "fitness", "fitness_stderr"):
        per_rung[(design_id, rung)].append((value, stderr))
    rungs: dict[int, dict[str, tuple[float, float | None]]] = defaultdict(dict)
    for (design_id, rung), values in per_rung.items():
        mean = sum(v for v, _ in values) / len(values)
        errors = [e for _, e in values]
        stderr = math.sqrt(sum(e * e for e in errors)) / len(errors) if all(e is not None for e in errors) else None  # type: ignore[operator]
        rungs[design_id][rung] = (mean, stderr)
    return [LineageDesign(id=r["id"], name=r["name"], parents=tuple(parents.get(r["id"], ())),
                          operator=operator_label(r["mode"], r["origin_kind"], r["origin"]),
                          units=frozenset(units.get(r["id"], ())), rungs=rungs.get(r["id"], {}), fitness=r["fitness"])
            for r in rows]


def run_lineage(run: EvolutionRun) -> dict[str, Any]:
    """Operators, units and branches of the run (parents may be seeds and uploads, which have no run)."""
    population = Design.objects.real().filter(Q(run=run) | Q(run__isnull=True))
    designs = lineage_designs(population)
    in_run = set(population.filter(run=run).values_list("id", flat=True))
    for d in designs:
        d.in_run = d.id in in_run
    hashes = {u for d in designs for u in d.units}
    names = dict(Unit.objects.filter(content_hash__in=hashes).values_list("content_hash", "name"))
    return lineage_stats(designs, rung_names(), names)


def unit_lineage(unit: Unit) -> dict[str, Any]:
    """For the unit page: the designs that introduced it and how they compared with their parents."""
    carriers = Design.objects.real().filter(unit_links__unit=unit)
    parent_ids = DesignParent.objects.filter(child__in=carriers).values_list("parent_id", flat=True)
    designs = lineage_designs(Design.objects.real().filter(Q(id__in=carriers.values("id")) | Q(id__in=parent_ids)))
    return unit_record(designs, unit.content_hash, rung_names())
