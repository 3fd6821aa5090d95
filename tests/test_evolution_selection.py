"""Selection policy: quadrants, parent choice, verification choice and budget release."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from evolution.core.selection import (
    DesignState,
    RungBudget,
    SelectionSettings,
    open_rungs,
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


def test_budget_opens_from_the_bottom():
    settings = SelectionSettings(release_fraction=0.5)
    ladder = [RungBudget("micro", 16), RungBudget("tiny", 4), RungBudget("14M", 1)]
    assert open_rungs(ladder, settings) == ["micro"]
    ladder[0].used = 8
    assert open_rungs(ladder, settings) == ["micro", "tiny"]
    ladder[1].used = 4
    assert open_rungs(ladder, settings) == ["micro", "14M"]


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
