"""How a design's F is made from its verifications (verifier.core.train.fitness): the population
verified at each (rung, metric), each rung value's z-score within it, and the combination.

Read by the services (to store F and its std) and by the pages (to show how F was made)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from evolution.core.ladder import is_ladder_rung
from evolution.models import Design, Verification
from verifier.core.train.fitness import Combined, RungFitness, RungStats, RungTerm, combine, z_term
from verifier.core.train.ladder import get_rung

PopulationStats = dict[tuple[str, str], RungStats]


def counted(v: Verification) -> bool:
    """Whether a verification enters F: done, scored, at a rung of the ladder (not `test`)."""
    return v.status == Verification.Status.DONE and v.fitness is not None and is_ladder_rung(v.rung)


def population_stats(rungs: Iterable[str] | None = None) -> PopulationStats:
    """Mean, std and count of the rung fitness per (rung, metric), over every design verified there.
    A design verified with several seeds at one rung counts once, with the mean of its seeds."""
    qs = Verification.objects.real().filter(status=Verification.Status.DONE, fitness__isnull=False)
    if rungs is not None:
        qs = qs.filter(rung__in=list(rungs))
    per_design: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for design_id, rung, metric, fitness in qs.values_list("design_id", "rung", "fitness_metric", "fitness"):
        if is_ladder_rung(rung):
            per_design[(rung, metric)][design_id].append(fitness)
    return {key: RungStats.of([sum(v) / len(v) for v in by_design.values()])
            for key, by_design in per_design.items()}


def seed_noise(rung: str, metric: str) -> float | None:
    """The rung's measured seed-to-seed std of its fitness under `metric` (`Rung.seed_noise`),
    None where not measured (or already inside the stderr, as at the screen)."""
    try:
        return get_rung(rung).seed_noise(metric)
    except KeyError:
        return None


def terms_of(verifications: Iterable[Verification], stats: PopulationStats) -> list[RungTerm]:
    """One term per (rung, metric): the seeds of a re-verified rung are averaged first, so a rung
    verified three times weighs as one rung, with its stderr and seed noise shrunk by sqrt(k)."""
    groups: dict[tuple[str, str], list[Verification]] = defaultdict(list)
    for v in sorted(verifications, key=lambda v: (v.rung_index, v.seed)):
        if counted(v):
            groups[(v.rung, v.fitness_metric)].append(v)
    terms = []
    for (rung, metric), rows in groups.items():
        k = len(rows)
        value = sum(v.fitness for v in rows) / k
        errors = [v.fitness_stderr for v in rows]
        stderr = (math.sqrt(sum(e * e for e in errors)) / k) if all(e is not None for e in errors) else None
        noise = seed_noise(rung, metric)
        terms.append(z_term(rung, metric, value, stderr, stats.get((rung, metric), RungStats(value, 0.0, 1)),
                            None if noise is None else noise / math.sqrt(k)))
    return terms


def design_fitness(design: Design, stats: PopulationStats | None = None) -> Combined:
    """F, its std and the rows it was made of."""
    rows = list(design.verifications.all())
    return combine(terms_of(rows, stats if stats is not None else population_stats({v.rung for v in rows})))


def rung_fitness_of(v: Verification) -> RungFitness | None:
    """The stored per-task breakdown of a verification's rung fitness (for paired comparisons)."""
    raw = (v.metrics or {}).get("fitness")
    try:
        return RungFitness.from_dict(raw) if isinstance(raw, dict) else None
    except (KeyError, TypeError, ValueError):
        return None
