"""Ablation presets: each one changes the search as it says (selection, literature) and nothing else."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from evolution.core.loop_settings import (
    PRESETS,
    LoopSettings,
    SettingsError,
    preset_of,
    preset_settings,
    settings_diff,
)
from evolution.core.selection import DesignState, SelectionSettings, select_parents

RUNGS = ["micro", "tiny", "14M"]


def population(n: int = 40, seeds: int = 5) -> list[DesignState]:
    """Fitness rises with the id; designs 0..seeds-1 are seeds; the top ten are verified twice."""
    designs = [DesignState(id=i, is_seed=i < seeds) for i in range(n)]
    for d in designs[:30]:
        d.fitness = d.id / 100
        d.fitness_std = 0.001
        d.verified_rungs = ("micro", "tiny") if d.id >= 20 else ("micro",)
    return designs


def draw(designs: list[DesignState], settings: SelectionSettings, n: int = 600, seed: int = 3) -> Counter:
    rng = random.Random(seed)
    chosen: Counter = Counter()
    for _ in range(n):
        chosen.update(select_parents(designs, RUNGS, settings, rng).parents)
    return chosen


def test_presets_are_settings_diffs_and_are_recognised():
    assert preset_settings("full") == LoopSettings()
    assert preset_settings("no_feedback").fitness_feedback is False
    assert preset_settings("no_literature").literature is False
    assert preset_settings("base").seed_parents_only is True
    for name in PRESETS:
        assert preset_of(preset_settings(name)) == name
    both = preset_settings("no_literature", {"fitness_feedback": False})
    assert preset_of(both) == "custom"
    assert settings_diff(both) == {"literature": False, "fitness_feedback": False}
    # Any other diff on top of a preset keeps the preset's name.
    assert preset_of(preset_settings("base", {"design_workers": 5})) == "base"


def test_bad_presets_and_switches_are_refused_with_the_field_named():
    with pytest.raises(SettingsError, match="preset must be one of"):
        preset_settings("nope")
    with pytest.raises(SettingsError, match="literature must be true or false"):
        preset_settings("full", {"literature": "no"})
    with pytest.raises(SettingsError, match="unknown setting"):
        preset_settings("full", {"literatur": False})


def test_full_selection_prefers_fit_parents():
    designs = population()
    chosen = draw(designs, preset_settings("full").selection())
    top, bottom = sum(chosen[i] for i in range(20, 30)), sum(chosen[i] for i in range(5, 15))
    assert top > 3 * bottom


def test_without_feedback_parents_ignore_fitness():
    """Uniform over the eligible designs: the fittest ten are drawn about as often as the least fit ten,
    and unverified designs as often as verified ones; reversing the fitness changes nothing."""
    designs = population()
    settings = preset_settings("no_feedback").selection()
    chosen = draw(designs, settings, n=3000)
    top, bottom = sum(chosen[i] for i in range(20, 30)), sum(chosen[i] for i in range(5, 15))
    assert 0.8 < top / bottom < 1.25
    assert sum(chosen[i] for i in range(30, 40)) > 0.8 * top  # never verified, still drawn
    reversed_fitness = population()
    for d in reversed_fitness:
        if d.fitness is not None:
            d.fitness = -d.fitness
    assert draw(reversed_fitness, settings, n=3000) == chosen


def test_base_never_picks_a_non_seed_parent():
    designs = population()
    settings = preset_settings("base").selection()
    assert settings.mix["crossover"] > 0
    rng = random.Random(5)
    modes: Counter = Counter()
    for _ in range(2000):
        choice = select_parents(designs, RUNGS, settings, rng)
        modes[choice.mode] += 1
        assert all(designs[i].is_seed for i in choice.parents)
        assert choice.parents or choice.mode == "scratch"  # a scratch design has no parents at all
    assert modes["crossover"] > 0 and modes["mutation"] > 0


def test_base_with_one_seed_mutates_it_and_with_none_says_why():
    designs = population(seeds=1)
    settings = SelectionSettings(seeds_only=True, mix={"crossover": 1.0}, crossover_after=0)
    choice = select_parents(designs, RUNGS, settings, random.Random(0))
    assert choice.mode == "mutation" and choice.parents == [0] and "crossover needs two" in choice.reason
    vetoed = population(seeds=2)
    for d in vetoed[:2]:
        d.vetoed = True
    with pytest.raises(LookupError, match="no seed designs"):
        select_parents(vetoed, RUNGS, SelectionSettings(seeds_only=True), random.Random(0))


def test_ablated_selection_skips_vetoed_and_unimplemented_designs():
    designs = population()
    for d in designs[5:]:
        d.vetoed = d.id % 2 == 0
        d.implemented = d.id % 3 != 0
    chosen = draw(designs, SelectionSettings(use_fitness=False))
    assert chosen and not any(designs[i].vetoed or not designs[i].implemented for i in chosen)

