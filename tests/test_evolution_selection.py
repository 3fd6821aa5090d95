"""Selection policy: quadrants, parent choice, verification choice, budget release, ties and noise."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest

from evolution.core.selection import (
    DesignState,
    RungBudget,
    SelectionSettings,
    good_cutoff,
    quadrants,
    select_parents,
    select_verification,
)

RUNGS = ["micro", "tiny", "14M"]


def population(n: int = 40) -> list[DesignState]:
    designs = [DesignState(id=i, is_seed=i < 5) for i in range(n)]
    for d in designs[:30]:
        d.fitness = d.id / 100
        d.verified_rungs = ("micro",) if d.id % 3 else ("micro", "tiny")
    return designs


def test_quadrants_split_by_fitness_and_confidence():
    quads = quadrants(population(), RUNGS, SelectionSettings())
    assert quads[29].good and not quads[0].good
    assert quads[3].confident and not quads[1].confident  # 3 is verified at two rungs
    assert quads[35].good is False  # unverified designs count as poor


def test_vetoed_and_unimplemented_designs_are_never_parents():
    designs = population()
    for d in designs:
        if d.id != 7:
            d.vetoed = d.id % 2 == 0
            d.implemented = d.id != 9
    rng = random.Random(0)
    chosen = Counter()
    for _ in range(300):
        chosen.update(select_parents(designs, RUNGS, SelectionSettings(), rng).parents)
    assert not any(designs[i].vetoed or not designs[i].implemented for i in chosen)


def test_parents_mostly_come_from_good_and_confident_designs():
    designs = population()
    settings = SelectionSettings(seed_parent_until_verified=0)
    quads = quadrants(designs, RUNGS, settings)
    rng = random.Random(1)
    labels = Counter()
    for _ in range(500):
        for p in select_parents(designs, RUNGS, settings, rng).parents:
            labels[quads[p].label] += 1
    total = sum(labels.values())
    assert labels["good-confident"] / total > 0.65
    assert labels["poor-confident"] / total > 0.08  # exploration happens


def test_mode_mix_respects_gates():
    few = population(8)
    rng = random.Random(2)
    modes = Counter(select_parents(few, RUNGS, SelectionSettings(), rng).mode for _ in range(200))
    assert set(modes) == {"mutation"}  # no crossover before 10, no scratch before 20 designs
    many = population(40)
    modes = Counter(select_parents(many, RUNGS, SelectionSettings(), rng).mode for _ in range(1000))
    assert modes["mutation"] > modes["crossover"] > modes["scratch"] > 0
    crossover = [select_parents(many, RUNGS, SelectionSettings(mix={"crossover": 1.0}), rng) for _ in range(50)]
    assert all(len(set(c.parents)) == 2 for c in crossover)


def test_one_parent_is_a_seed_while_few_designs_are_verified():
    designs = [DesignState(id=i, is_seed=i < 5) for i in range(12)]
    designs[10].fitness, designs[10].verified_rungs = 0.9, ("micro",)
    rng = random.Random(3)
    for _ in range(100):
        choice = select_parents(designs, RUNGS, SelectionSettings(), rng)
        assert any(designs[p].is_seed for p in choice.parents)


def test_the_top_rung_opens_only_when_it_is_the_lowest_rung_with_budget_left():
    designs = [DesignState(id=i, fitness=0.5 if i == 7 else 0.0, verified_rungs=("micro", "tiny", "125M"))
               for i in range(8)]
    ladder = [RungBudget("micro", 16, used=8), RungBudget("tiny", 8, used=8), RungBudget("125M", 8, used=8),
              RungBudget("350M", 1)]
    assert select_verification(designs, ladder, SelectionSettings(), random.Random(0)) is None
    ladder[0].used = 16
    choice = select_verification(designs, ladder, SelectionSettings(explore_prob=0), random.Random(0))
    assert (choice.design, choice.rung) == (7, "350M")


def test_new_designs_are_verified_first_at_the_lowest_rung():
    designs = population()
    ladder = [RungBudget("micro", 64), RungBudget("tiny", 16), RungBudget("14M", 4)]
    choice = select_verification(designs, ladder, SelectionSettings(), random.Random(0))
    assert choice is not None and (choice.design, choice.rung) == (30, "micro")


def test_promotion_comes_first_and_vetoed_designs_are_skipped():
    designs = population()
    designs[30].vetoed = True
    designs[12].promoted_to = "14M"
    ladder = [RungBudget("micro", 64), RungBudget("tiny", 16), RungBudget("14M", 4)]
    choice = select_verification(designs, ladder, SelectionSettings(), random.Random(0))
    assert (choice.design, choice.rung) == (12, "14M")
    designs[12].busy_rungs = ("14M",)  # already queued: a double click queues one verification
    choice = select_verification(designs, ladder, SelectionSettings(), random.Random(0))
    assert (choice.design, choice.rung) == (31, "micro")


def test_climbing_prefers_good_unconfident_designs_at_their_next_rung():
    designs = population(30)
    ladder = [RungBudget("micro", 64, used=30), RungBudget("tiny", 16), RungBudget("14M", 4)]
    rng = random.Random(5)
    settings = SelectionSettings(explore_prob=0.0)
    choice = select_verification(designs, ladder, settings, rng)
    quads = quadrants(designs, [r.name for r in ladder], settings)
    assert choice.rung == "tiny" and quads[choice.design].good and not quads[choice.design].confident


def test_nothing_to_verify_when_budget_is_spent():
    designs = population()
    ladder = [RungBudget("micro", 4, used=4), RungBudget("tiny", 1, used=1)]
    assert select_verification(designs, ladder, SelectionSettings(), random.Random(0)) is None


def test_no_parents_at_all_is_a_clear_error():
    with pytest.raises(LookupError):
        select_parents([DesignState(id=1, vetoed=True)], RUNGS, SelectionSettings(), random.Random(0))


def test_a_failed_verification_is_not_retried_automatically():
    designs = [DesignState(id=1, failed_rungs=("micro",)), DesignState(id=2)]
    ladder = [RungBudget("micro", 8), RungBudget("tiny", 2)]
    choice = select_verification(designs, ladder, SelectionSettings(), random.Random(0))
    assert (choice.design, choice.rung) == (2, "micro")
    designs[1].busy_rungs = ("micro",)
    assert select_verification(designs, ladder, SelectionSettings(), random.Random(0)) is None


# ---- ties ------------------------------------------------------------------------------------------

def test_twenty_designs_at_one_rung_and_one_at_the_next_do_not_stall_verification():
    designs = [DesignState(id=i, fitness=0.1, verified_rungs=("micro",)) for i in range(20)]
    designs.append(DesignState(id=20, fitness=0.1, verified_rungs=("micro", "tiny")))
    ladder = [RungBudget("micro", 64, used=21), RungBudget("tiny", 16, used=1)]
    quads = quadrants(designs, ["micro", "tiny"], SelectionSettings())
    assert sum(q.confident for q in quads.values()) == 5 and quads[20].confident  # round(21 / 4), by rank
    assert sum(q.good for q in quads.values()) == 5 and quads[20].good  # equal fitness: the better verified
    choice = select_verification(designs, ladder, SelectionSettings(), random.Random(0))
    assert choice is not None and choice.rung == "tiny" and not quads[choice.design].confident


def test_equal_fitness_and_confidence_split_by_rank_and_parents_are_not_drawn_uniformly():
    designs = [DesignState(id=i, fitness=0.2, verified_rungs=("micro",)) for i in range(40)]
    settings = SelectionSettings(seed_parent_until_verified=0, explore_prob=0.0, mix={"mutation": 1.0})
    quads = quadrants(designs, RUNGS, settings)
    good = {i for i, q in quads.items() if q.good}
    assert good == {i for i, q in quads.items() if q.confident} == set(range(10))  # ties: oldest first
    rng = random.Random(4)
    chosen = Counter(p for _ in range(300) for p in select_parents(designs, RUNGS, settings, rng).parents)
    assert set(chosen) == good


def test_ties_in_confidence_go_to_the_more_certain_fitness():
    designs = [DesignState(id=i, fitness=0.1, fitness_std=0.05, verified_rungs=("micro",)) for i in range(8)]
    designs[6].fitness_std = 0.001
    designs[7].fitness_std = None  # unknown: last
    quads = quadrants(designs, RUNGS, SelectionSettings())
    assert {i for i, q in quads.items() if q.confident} == {6, 0}


def test_one_design_none_verified_and_empty_populations():
    rng = random.Random(0)
    ladder = [RungBudget("micro", 4), RungBudget("tiny", 1)]
    one = [DesignState(id=7)]
    assert quadrants(one, RUNGS, SelectionSettings())[7] == quadrants(one, RUNGS, SelectionSettings())[7]
    assert select_parents(one, RUNGS, SelectionSettings(), rng).parents == [7]
    assert select_verification(one, ladder, SelectionSettings(), rng).rung == "micro"
    none_verified = [DesignState(id=i) for i in range(5)]
    assert select_verification(none_verified, ladder, SelectionSettings(), rng).design == 0
    assert select_verification([], ladder, SelectionSettings(), rng) is None
    assert quadrants([], RUNGS, SelectionSettings()) == {} and good_cutoff([], 0.25) is None
    with pytest.raises(LookupError):
        select_parents([], RUNGS, SelectionSettings(), rng)


def test_a_huge_population_is_selected_fast():
    """10,000 designs select in well under a second of CPU when linear; the bound is loose (CPU time,
    not wall time, so a loaded box does not fail it) and only catches a quadratic slip (~minutes)."""
    rng = random.Random(0)
    designs = [DesignState(id=i, fitness=round(rng.random(), 2), fitness_std=rng.choice([None, 0.01, 0.05]),
                           verified_rungs=("micro",) if i % 5 else ("micro", "tiny"), seeds={"micro": (42,)})
               for i in range(10_000)]
    ladder = [RungBudget("micro", 16384, used=10_000), RungBudget("tiny", 4096, used=2000), RungBudget("14M", 1024)]
    start = time.process_time()
    for _ in range(3):
        select_parents(designs, RUNGS, SelectionSettings(), rng)
        assert select_verification(designs, ladder, SelectionSettings(), rng) is not None
    assert time.process_time() - start < 15.0


# ---- noise -----------------------------------------------------------------------------------------

def _two_contenders(std: float) -> list[DesignState]:
    """The two confident designs: 0 is certainly good (0.30); 1 (0.28 +- std) is good only when it beats
    the 0.29 of the less verified rest, which with a small error it never does."""
    designs = [DesignState(id=0, fitness=0.30, fitness_std=0.001, verified_rungs=("micro", "tiny")),
               DesignState(id=1, fitness=0.28, fitness_std=std, verified_rungs=("micro", "tiny", "14M"))]
    designs += [DesignState(id=i, fitness=0.29, fitness_std=0.001, verified_rungs=("micro",)) for i in range(2, 8)]
    return designs


def test_parents_are_drawn_by_thompson_sampling_over_the_fitness():
    settings = SelectionSettings(seed_parent_until_verified=0, explore_prob=0.0, mix={"mutation": 1.0})
    for std, low, high in ((0.001, 0.0, 0.0), (0.05, 0.1, 0.4)):
        rng = random.Random(6)
        picks = Counter(select_parents(_two_contenders(std), RUNGS, settings, rng).parents[0] for _ in range(400))
        assert set(picks) <= {0, 1} and low <= picks[1] / 400 <= high, (std, picks)


def test_selection_is_deterministic_under_a_given_rng():
    def run(seed: int) -> list:
        rng = random.Random(seed)
        designs = population()
        for d in designs:
            d.fitness_std = 0.02 if d.fitness is not None else None
        ladder = [RungBudget("micro", 64, used=40), RungBudget("tiny", 16), RungBudget("14M", 4)]
        return [(select_parents(designs, RUNGS, SelectionSettings(), rng),
                 select_verification(designs, ladder, SelectionSettings(), rng)) for _ in range(20)]

    assert run(11) == run(11)


def test_verification_climbs_by_the_upper_confidence_bound():
    designs = [DesignState(id=i, fitness=0.0, fitness_std=0.001, verified_rungs=("micro", "tiny")) for i in range(6)]
    designs += [DesignState(id=6, fitness=0.10, fitness_std=0.001, verified_rungs=("micro",)),
                DesignState(id=7, fitness=0.09, fitness_std=0.05, verified_rungs=("micro",))]
    ladder = [RungBudget("micro", 8, used=8), RungBudget("tiny", 8, used=6)]
    settings = SelectionSettings(explore_prob=0.0, top_fraction=0.25)
    choice = select_verification(designs, ladder, settings, random.Random(0))
    assert (choice.design, choice.rung) == (7, "tiny")  # 0.09 + 0.05 beats 0.10 + 0.001
    designs[7].fitness_std = None  # unknown: the median standard error (0.001)
    choice = select_verification(designs, ladder, settings, random.Random(0))
    assert (choice.design, choice.rung) == (6, "tiny")


def _close_call_population() -> list[DesignState]:
    """Eight designs at micro: two clearly good, five clearly poor, and design 2 on the cutoff."""
    fitness = [0.5, 0.4, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0]
    return [DesignState(id=i, fitness=f, fitness_std=0.01, verified_rungs=("micro",), seeds={"micro": (42,)})
            for i, f in enumerate(fitness)]


def test_a_close_call_is_reverified_at_its_rung_with_a_new_seed():
    designs = _close_call_population()
    designs[2].fitness_std = 0.2  # 0.3 +- 0.2 straddles the cutoff (0.15 between the 2nd and the 3rd)
    ladder = [RungBudget("micro", 40, used=8), RungBudget("tiny", 10)]
    choice = select_verification(designs, ladder, SelectionSettings(top_fraction=0.25), random.Random(0))
    assert (choice.design, choice.rung, choice.seed) == (2, "micro", 43) and "close call" in choice.reason
    designs[2].seeds = {"micro": (42, 43)}
    assert select_verification(designs, ladder, SelectionSettings(), random.Random(0)).seed == 44
    designs[2].busy_rungs = ("micro",)  # the re-verification is running: not queued twice
    assert select_verification(designs, ladder, SelectionSettings(), random.Random(0)).seed is None


def test_reverification_is_bounded_by_seeds_and_budget_and_needs_a_known_error():
    ladder = [RungBudget("micro", 40, used=8), RungBudget("tiny", 10)]
    designs = _close_call_population()
    designs[2].fitness_std = 0.2
    designs[2].seeds = {"micro": (42, 43, 44)}  # max_seeds reached
    assert select_verification(designs, ladder, SelectionSettings(), random.Random(0)).seed is None
    designs = _close_call_population()
    designs[2].fitness_std = 0.2
    designs[0].seeds = {"micro": tuple(range(42, 53))}  # 10 re-verifications: 25% of micro's 40
    assert select_verification(designs, ladder, SelectionSettings(), random.Random(0)).seed is None
    designs = _close_call_population()
    designs[2].fitness_std = None  # unknown: no close call is claimed
    assert select_verification(designs, ladder, SelectionSettings(), random.Random(0)).seed is None
    designs = _close_call_population()
    designs[2].fitness_std = 0.2
    ladder[0].used = 40  # micro is spent: nothing is re-verified there
    assert select_verification(designs, ladder, SelectionSettings(), random.Random(0)).rung == "tiny"
