"""The "without experiment feedback" switch: parents are drawn ignoring fitness (evolution.core.selection)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from evolution.core.loop_settings import LoopSettings, SettingsError
from evolution.core.selection import DesignState, SelectionSettings, select_parents


def population() -> list[DesignState]:
    """Fitness rises with the id; the five fittest are also verified at the next rung (confident)."""
    return [DesignState(id=i, is_seed=i < 2, fitness=i / 10, fitness_std=0.001,
                        verified_rungs=("test", "micro") if i >= 15 else ("test",)) for i in range(20)]


def parents(settings: SelectionSettings, n: int = 2000) -> Counter:
    rng = random.Random(5)
    out: Counter = Counter()
    for _ in range(n):
        out.update(select_parents(population(), ["test", "micro"], settings, rng).parents)
    return out


def test_with_feedback_the_fit_are_bred_from_and_without_it_every_design_alike():
    mix = {"mutation": 1.0, "crossover": 0.0, "scratch": 0.0}
    fed = parents(SelectionSettings(mix=mix))
    blind = parents(SelectionSettings(mix=mix, use_fitness=False))
    top = range(15, 20)
    assert sum(fed[i] for i in top) > 0.5 * sum(fed.values())
    # Uniform over 20 designs: each about 100 of 2000 draws.
    assert set(blind) == set(range(20)) and max(blind.values()) < 160 and min(blind.values()) > 50
    choice = select_parents(population(), ["test", "micro"], SelectionSettings(mix=mix, use_fitness=False), random.Random(1))
    assert "fitness ignored" in choice.reason


def test_the_run_setting_reaches_selection_and_is_validated():
    assert LoopSettings().selection().use_fitness is True
    assert LoopSettings.from_dict({"fitness_feedback": False}).selection().use_fitness is False
    with pytest.raises(SettingsError, match="fitness_feedback"):
        LoopSettings.from_dict({"fitness_feedback": "no"})
