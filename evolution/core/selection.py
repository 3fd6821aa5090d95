"""Parent and verification selection, as in the paper, made honest about ties and noise.

Quadrants. Designs are split by fitness rank and by confidence rank: the top `top_fraction` (at least
one design) by fitness is *good*, the top `top_fraction` by confidence is *confident*. Both are
ranks, not thresholds, so ties never make every design good or confident:
- fitness ties go to the better verified design (more confidence points), then to the older (lower id);
- confidence ties go to the more certain fitness (smaller standard error; unknown last), then to the
  older design; not to the fitter one, which would leave the good-unconfident quadrant (the designs
  that climb) empty whenever confidence ties.

Noise. `fitness` is an estimate and `fitness_std` its standard error (None: unknown, which counts as
the median of the known standard errors, or 0 when none is known: plain ranking).
- Parents: Thompson sampling. Every choice draws one plausible fitness per design,
  F + std * N(0, 1), and splits good from poor on the draws, so a design that is only perhaps good is
  bred from about as often as it is plausibly good.
- Verification: optimism. Designs are ranked by the upper confidence bound F + ucb_z * std: a design
  that may well be good is worth its next rung.
- Close calls: a design verified at an open rung whose interval F +- close_call_z * std contains the
  good cutoff (midway between the last good and the first poor fitness) is re-verified at that rung
  with a new training seed: one more run at a rung where budget is being spent anyway says on which
  side of the cutoff it belongs before a 4x dearer rung is spent on it, or it is bred from. The
  closest call (smallest |F - cutoff| / std) goes first; at most `max_seeds` runs per design and rung,
  and at most `reverify_fraction` of a rung's budget goes to re-verification.

Verification order: 1. researchers' promotions (a vetoed design is never chosen); 2. new designs at
their first open rung, oldest first; 3. close calls; 4. unconfident designs climb to their next open
rung ("the lowest unverified rung with budget"), cheaper rungs first, good ones (by the upper bound)
unless exploring. Which rungs are open and a design's next rung come from the one definition of the
ladder, `verifier.core.train.ladder`.

Ablations (`SelectionSettings.use_fitness`, `seeds_only`): without experiment feedback the parents are
drawn uniformly from the eligible designs, fitness unread; "Base" draws every parent from the seeds
(a crossover of two needs two seeds, else it is a mutation of one).

Everything here is plain data in, plain data out, deterministic under a given `random.Random`, so it
is tested without a database.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field

from verifier.core.train.ladder import DEFAULT_SEED, next_rung, open_rungs


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
    seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)  # training seeds run per rung (any status)


@dataclass
class SelectionSettings:
    top_fraction: float = 0.25  # top quarter by fitness = good, by confidence = confident
    explore_prob: float = 0.2
    mix: dict[str, float] = field(default_factory=lambda: {"scratch": 0.05, "mutation": 0.8, "crossover": 0.15})
    scratch_after: int = 20  # implemented designs before scratch designs are allowed
    crossover_after: int = 10
    seed_parent_until_verified: int = 10  # while at most this many are verified, one parent is a seed
    ucb_z: float = 1.0  # verification ranks by fitness + ucb_z standard errors
    close_call_z: float = 1.0  # within this many standard errors of the good cutoff: a close call
    max_seeds: int = 3  # runs of one design at one rung (the first and its re-verifications)
    reverify_fraction: float = 0.25  # share of a rung's budget that re-verification may use
    use_fitness: bool = True  # False: parents drawn uniformly (the "no experiment feedback" ablation)
    seeds_only: bool = False  # True: parents only from the seed designs (the "Base" ablation)


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


def _top(keys: dict[int, tuple], fraction: float) -> set[int]:
    """The first `round(n * fraction)` ids (at least one) when sorted by key, smallest first; the key
    carries the tie-breaks and the id the last one, so exactly that many are in."""
    if not keys:
        return set()
    k = max(1, round(len(keys) * fraction))
    return set(sorted(keys, key=lambda i: (keys[i], i))[:k])


def _std(designs: list[DesignState]) -> dict[int, float]:
    """Each design's standard error, unknown ones at the median of the known (0 when none is known)."""
    known = [d.fitness_std for d in designs if d.fitness_std is not None and d.fitness_std >= 0]
    fallback = statistics.median(known) if known else 0.0
    return {d.id: d.fitness_std if d.fitness_std is not None and d.fitness_std >= 0 else fallback for d in designs}


def _eligible(designs: list[DesignState]) -> list[DesignState]:
    return [d for d in designs if d.implemented and not d.vetoed]


def quadrants(designs: list[DesignState], rungs: list[str], settings: SelectionSettings,
              estimate: dict[int, float] | None = None) -> dict[int, Quadrant]:
    """Each eligible design's quadrant; unverified designs count as poor. `estimate` replaces the
    fitness for the good/poor split (a Thompson draw, an upper confidence bound)."""
    eligible = _eligible(designs)
    conf = {d.id: confidence_points(d, rungs) for d in eligible}
    std = _std(eligible)
    value = {d.id: (estimate or {}).get(d.id, d.fitness) for d in eligible if d.fitness is not None}
    good = _top({i: (-v, -conf[i]) for i, v in value.items()}, settings.top_fraction)
    confident = _top({d.id: (-conf[d.id], d.fitness_std is None, std[d.id]) for d in eligible},
                     settings.top_fraction)
    return {d.id: Quadrant(d.id in good, d.id in confident) for d in eligible}


def thompson_draw(designs: list[DesignState], rng: random.Random) -> dict[int, float]:
    """One plausible fitness per design with a fitness: F + std * N(0, 1), drawn in id order."""
    std = _std(designs)
    return {d.id: d.fitness + (std[d.id] * rng.gauss(0.0, 1.0) if std[d.id] > 0 else 0.0)
            for d in sorted(designs, key=lambda d: d.id) if d.fitness is not None}


def upper_bounds(designs: list[DesignState], z: float) -> dict[int, float]:
    """F + z standard errors per design with a fitness."""
    std = _std(designs)
    return {d.id: d.fitness + z * std[d.id] for d in designs if d.fitness is not None}


def good_cutoff(designs: list[DesignState], fraction: float) -> float | None:
    """The fitness between the last good and the first poor design (None: no such boundary)."""
    values = sorted((d.fitness for d in _eligible(designs) if d.fitness is not None), reverse=True)
    k = max(1, round(len(values) * fraction))
    return (values[k - 1] + values[k]) / 2 if k < len(values) else None


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
    """Pick the mode and the parents for the next design (quadrants on a Thompson draw of fitness)."""
    mode = choose_mode(designs, settings, rng)
    if mode == "scratch":
        return ParentChoice("scratch", [], "scratch design")
    count = 1 if mode == "mutation" else 2
    eligible = _eligible(designs)
    if settings.seeds_only or not settings.use_fitness:
        return _ablated_parents(eligible, mode, count, settings, rng)
    quads = quadrants(eligible, rungs, settings, thompson_draw(eligible, rng))
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


def _ablated_parents(eligible: list[DesignState], mode: str, count: int, settings: SelectionSettings,
                     rng: random.Random) -> ParentChoice:
    """Parents drawn uniformly, fitness unread: from the seeds ("Base") or from every eligible design."""
    pool = sorted(d.id for d in eligible if d.is_seed or not settings.seeds_only)
    where = "seed designs" if settings.seeds_only else "eligible designs"
    if not pool:
        raise LookupError(f"no design can be a parent: no {where} (every one is vetoed or unimplemented)")
    reason = f"ablation: uniform over the {len(pool)} {where}" + ("" if settings.use_fitness or settings.seeds_only
                                                                   else ", fitness ignored")
    if len(pool) < count:
        return ParentChoice("mutation", pool[:1], reason + "; crossover needs two designs")
    return ParentChoice(mode, rng.sample(pool, k=count), reason)


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
    seed: int | None = None  # a training seed other than the default: a re-verification of a close call


def new_seed(used: tuple[int, ...]) -> int:
    """The first seed from the default up that this design has not run at the rung."""
    seed = DEFAULT_SEED
    while seed in used:
        seed += 1
    return seed


def _close_call(designs: list[DesignState], ladder: list[RungBudget], opened: set[str],
                settings: SelectionSettings) -> VerifyChoice | None:
    """The closest call worth a re-verification at its highest verified rung (None: none is)."""
    cutoff = good_cutoff(designs, settings.top_fraction)
    if cutoff is None:
        return None
    names = [r.name for r in ladder]
    reverified = {r.name: sum(max(0, len(d.seeds.get(r.name, ())) - 1) for d in designs) for r in ladder}
    allowance = {r.name: settings.reverify_fraction * r.budget for r in ladder}
    calls = []
    for d in _eligible(designs):
        if d.fitness is None or not d.fitness_std or d.fitness_std <= 0:
            continue
        top = max((names.index(n) for n in d.verified_rungs if n in names), default=-1)
        if top < 0:
            continue
        rung = names[top]
        seeds = d.seeds.get(rung, (DEFAULT_SEED,))
        if (rung not in opened or rung in d.busy_rungs or len(seeds) >= settings.max_seeds
                or reverified[rung] + 1 > allowance[rung]):
            continue
        distance = abs(d.fitness - cutoff) / d.fitness_std
        if distance <= settings.close_call_z:
            calls.append((distance, d.id, d, rung, seeds))
    if not calls:
        return None
    _, _, d, rung, seeds = min(calls, key=lambda c: (c[0], c[1]))
    seed = new_seed(seeds)
    return VerifyChoice(d.id, rung, f"close call: fitness {d.fitness:.4f} ± {d.fitness_std:.4f} against the good "
                                    f"cutoff {cutoff:.4f}; re-verify at {rung} with seed {seed}", seed=seed)


def select_verification(
    designs: list[DesignState], ladder: list[RungBudget], settings: SelectionSettings, rng: random.Random,
    admit_new: bool = True,
) -> VerifyChoice | None:
    """The next (design, rung[, seed]) to verify, or None when nothing is worth a verification now.
    `admit_new=False` (back-pressure on the screen, core/backpressure.py): no new design starts its
    first rung; promotions, close calls and climbing go on."""
    names = [r.name for r in ladder]
    budget = {r.name: r for r in ladder}
    eligible = _eligible(designs)

    # 1. A researcher's promotion comes first (budget permitting).
    for d in sorted(eligible, key=lambda d: d.id):
        wanted = d.promoted_to
        if wanted and wanted not in d.verified_rungs + d.busy_rungs and wanted in budget and budget[wanted].left:
            return VerifyChoice(d.id, wanted, "promoted by a researcher")
    opened = open_rungs({r.name: r.left for r in ladder})
    if not opened:
        return None

    def step(d: DesignState) -> str | None:
        rung = next_rung(d.verified_rungs, names, opened)
        return None if rung is None or rung in d.busy_rungs or rung in d.failed_rungs else rung

    # 2. Every new design is first verified at its lowest open rung, oldest first.
    fresh = [d for d in eligible if not any(n in names for n in d.verified_rungs)
             and not any(n in names for n in d.busy_rungs)]
    for d in sorted(fresh, key=lambda d: d.id) if admit_new else ():
        rung = step(d)
        if rung is not None:
            return VerifyChoice(d.id, rung, "new design: lowest rung first")
    # 3. A close call is settled at its rung before anything climbs on it.
    close = _close_call(eligible, ladder, set(opened), settings)
    if close is not None:
        return close
    # 4. Then climb: unconfident designs at their next open rung, good ones first unless exploring.
    bound = upper_bounds(eligible, settings.ucb_z)
    quads = quadrants(eligible, names, settings, bound)
    candidates = [
        (d, rung) for d in eligible
        if any(n in names for n in d.verified_rungs) and not quads[d.id].confident and (rung := step(d)) is not None
    ]
    if not candidates:
        return None
    explore = rng.random() < settings.explore_prob
    preferred = [(d, r) for d, r in candidates if quads[d.id].good != explore]
    pool = preferred or candidates
    d, rung = max(pool, key=lambda pair: (-names.index(pair[1]), bound.get(pair[0].id, float("-inf")), -pair[0].id))
    kind = f"{'explore' if explore else 'exploit'}: {quads[d.id].label}"
    if not preferred:
        kind += f" (no {'poor' if explore else 'good'}-unconfident design waits)"
    return VerifyChoice(d.id, rung, f"{kind}, next rung {rung}")
