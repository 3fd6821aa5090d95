"""Parent and verification selection, as in the paper: designs are split by fitness rank and
confidence into four quadrants; designers mostly build on good-and-confident designs and sometimes
explore; verifiers spend each rung's budget on the designs whose fitness is least certain.

Researchers' decisions come first: a promoted design is verified next, a vetoed one never chosen.
Everything here is plain data in, plain data out, so it is tested without a database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class DesignState:
    """What selection needs to know about one design."""

    id: int
    fitness: float | None = None
    fitness_std: float | None = None  # uncertainty of `fitness` (standard error); None: unknown
    verified_rungs: tuple[str, ...] = ()
    is_seed: bool = False
    implemented: bool = True  # passed the checker
    vetoed: bool = False
    promoted_to: str | None = None  # a rung a researcher asked for
    busy_rungs: tuple[str, ...] = ()  # verifications queued or running
    failed_rungs: tuple[str, ...] = ()  # verifications that failed: not retried automatically


@dataclass
class SelectionSettings:
    top_fraction: float = 0.25  # top quarter by fitness = good, by confidence = confident
    explore_prob: float = 0.2
    mix: dict[str, float] = field(default_factory=lambda: {"scratch": 0.05, "mutation": 0.8, "crossover": 0.15})
    scratch_after: int = 20  # implemented designs before scratch designs are allowed
    crossover_after: int = 10
    seed_parent_until_verified: int = 10  # while at most this many are verified, one parent is a seed
    release_fraction: float = 0.25  # share of a rung's budget used before the next rung opens


@dataclass(frozen=True)
class Quadrant:
    good: bool
    confident: bool

    @property
    def label(self) -> str:
        return f"{'good' if self.good else 'poor'}-{'confident' if self.confident else 'unconfident'}"


def confidence_points(design: DesignState, rungs: list[str]) -> int:
    """Proposed 1 + implemented 1 + rung points growing up the ladder (1 for the lowest rung, …)."""
    points = 1 + (1 if design.implemented else 0)
    for i, rung in enumerate(rungs):
        if rung in design.verified_rungs:
            points += i + 1
    return points


def _top(values: dict[int, float], fraction: float) -> set[int]:
    if not values:
        return set()
    k = max(1, round(len(values) * fraction))
    ranked = sorted(values, key=lambda i: (-values[i], i))
    cutoff = values[ranked[k - 1]]
    return {i for i, v in values.items() if v >= cutoff}


def quadrants(designs: list[DesignState], rungs: list[str], settings: SelectionSettings) -> dict[int, Quadrant]:
    """Each eligible design's quadrant; unverified designs count as poor."""
    eligible = [d for d in designs if d.implemented and not d.vetoed]
    fitness = {d.id: d.fitness for d in eligible if d.fitness is not None}
    conf = {d.id: float(confidence_points(d, rungs)) for d in eligible}
    good = _top(fitness, settings.top_fraction)
    confident = _top(conf, settings.top_fraction) if len(set(conf.values())) > 1 else set()
    return {d.id: Quadrant(d.id in good, d.id in confident) for d in eligible}


@dataclass
class ParentChoice:
    mode: str  # scratch | mutation | crossover
    parents: list[int]
    reason: str


def choose_mode(designs: list[DesignState], settings: SelectionSettings, rng: random.Random) -> str:
    implemented = sum(1 for d in designs if d.implemented and not d.vetoed)
    weights = dict(settings.mix)
    if implemented < settings.scratch_after:
        weights["scratch"] = 0.0
    if implemented < settings.crossover_after or implemented < 2:
        weights["crossover"] = 0.0
    modes = [m for m, w in weights.items() if w > 0]
    if not modes:
        return "mutation"
    return rng.choices(modes, weights=[weights[m] for m in modes])[0]


def select_parents(
    designs: list[DesignState], rungs: list[str], settings: SelectionSettings, rng: random.Random
) -> ParentChoice:
    """Pick the mode and the parents for the next design."""
    mode = choose_mode(designs, settings, rng)
    if mode == "scratch":
        return ParentChoice("scratch", [], "scratch design")
    count = 1 if mode == "mutation" else 2
    quads = quadrants(designs, rungs, settings)
    if not quads:
        raise LookupError("no design can be a parent: every design is vetoed or unimplemented")
    explore = rng.random() < settings.explore_prob
    wanted = Quadrant(good=not explore, confident=True)
    pool = [i for i, q in quads.items() if q == wanted]
    reason = f"{'explore' if explore else 'exploit'}: {wanted.label}"
    if len(pool) < count:
        pool = sorted(quads)
        reason += " (quadrant too small: drawing from all designs)"
    chosen = rng.sample(sorted(pool), k=min(count, len(pool)))
    by_id = {d.id: d for d in designs}
    verified = sum(1 for d in designs if d.verified_rungs)
    seeds = [d.id for d in designs if d.is_seed and d.id in quads]
    if verified <= settings.seed_parent_until_verified and seeds and not any(by_id[i].is_seed for i in chosen):
        chosen[-1] = rng.choice(seeds)
        reason += "; one parent is a seed while few designs are verified"
    if len(set(chosen)) < count:
        others = [i for i in sorted(quads) if i not in chosen]
        if not others:
            return ParentChoice("mutation", chosen[:1], reason + "; crossover needs two designs")
        chosen = [chosen[0], rng.choice(others)]
    return ParentChoice(mode, chosen, reason)


@dataclass
class RungBudget:
    name: str
    budget: int
    used: int = 0

    @property
    def left(self) -> int:
        return max(0, self.budget - self.used)


@dataclass
class VerifyChoice:
    design: int
    rung: str
    reason: str


def open_rungs(ladder: list[RungBudget], settings: SelectionSettings) -> list[str]:
    """Rungs that may be spent now: budget is released from the lowest rung up."""
    opened: list[str] = []
    for i, rung in enumerate(ladder):
        if rung.left <= 0:
            continue
        if i == 0:
            opened.append(rung.name)
            continue
        below = ladder[i - 1]
        if below.left == 0 or below.used >= settings.release_fraction * below.budget:
            opened.append(rung.name)
    return opened


def select_verification(
    designs: list[DesignState], ladder: list[RungBudget], settings: SelectionSettings, rng: random.Random
) -> VerifyChoice | None:
    """The next (design, rung) to verify, or None when nothing is worth a verification now."""
    names = [r.name for r in ladder]
    budget = {r.name: r for r in ladder}
    eligible = [d for d in designs if d.implemented and not d.vetoed]

    def next_rung(d: DesignState) -> str | None:
        for name in names:
            if name not in d.verified_rungs:
                return None if name in d.busy_rungs or name in d.failed_rungs else name
        return None

    # 1. A researcher's promotion comes first (budget permitting).
    for d in sorted(eligible, key=lambda d: d.id):
        wanted = d.promoted_to
        if wanted and wanted not in d.verified_rungs + d.busy_rungs and wanted in budget and budget[wanted].left:
            return VerifyChoice(d.id, wanted, "promoted by a researcher")
    opened = set(open_rungs(ladder, settings))
    if not opened:
        return None
    # 2. Every new design is first verified at the lowest rung, oldest first.
    lowest = names[0]
    if lowest in opened:
        fresh = [d for d in eligible if not d.verified_rungs and next_rung(d) == lowest]
        if fresh:
            d = min(fresh, key=lambda d: d.id)
            return VerifyChoice(d.id, lowest, "new design: lowest rung first")
    # 3. Then climb: unconfident designs at their next open rung, good ones first unless exploring.
    quads = quadrants(designs, names, settings)
    candidates = [
        (d, rung) for d in eligible
        if (rung := next_rung(d)) is not None and rung in opened and d.verified_rungs and not quads[d.id].confident
    ]
    if not candidates:
        return None
    explore = rng.random() < settings.explore_prob
    preferred = [(d, r) for d, r in candidates if quads[d.id].good != explore]
    pool = preferred or candidates
    d, rung = max(pool, key=lambda pair: (names.index(pair[1]) * -1, pair[0].fitness or 0.0, -pair[0].id))
    kind = "explore: poor-unconfident" if explore and preferred else "exploit: good-unconfident"
    return VerifyChoice(d.id, rung, f"{kind}, next rung {rung}")
