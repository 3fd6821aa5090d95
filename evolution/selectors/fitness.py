"""How a design's F is made from its verifications (verifier.core.train.fitness): the population
verified at each (rung, metric), each rung value's z-score within it, and the combination.

Read by the services (to store F and its std) and by the pages (to show how F was made)."""

from __future__ import annotations

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
    """Mean, std and count of the rung fitness per (rung, metric), over every design verified there."""
    qs = Verification.objects.filter(status=Verification.Status.DONE, fitness__isnull=False)
    if rungs is not None:
        qs = qs.filter(rung__in=list(rungs))
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for rung, metric, fitness in qs.values_list("rung", "fitness_metric", "fitness"):
        if is_ladder_rung(rung):
            values[(rung, metric)].append(fitness)
    return {key: RungStats.of(vals) for key, vals in values.items()}


def seed_noise(rung: str) -> float | None:
    """The rung's seed-to-seed std of its fitness (`Rung.seed_noise`), None where not measured."""
    try:
        return getattr(get_rung(rung), "seed_noise", None)
    except KeyError:
        return None


def terms_of(verifications: Iterable[Verification], stats: PopulationStats) -> list[RungTerm]:
    terms = []
    for v in sorted(verifications, key=lambda v: v.rung_index):
        if not counted(v):
            continue
        key = (v.rung, v.fitness_metric)
        terms.append(z_term(v.rung, v.fitness_metric, v.fitness, v.fitness_stderr,
                            stats.get(key, RungStats(v.fitness, 0.0, 1)), seed_noise(v.rung)))
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
