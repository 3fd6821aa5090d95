"""benchmarks/bench_rank_agreement.py: its statistics (Spearman with ties, bootstrap interval) and
the GP designs it makes from a fixed RNG seed."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from verifier.core.gau.tree import GAUTree

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "bench_rank_agreement.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_rank_agreement", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spearman_matches_hand_computed_values_with_ties(bench):
    assert bench.ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]
    assert bench.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert bench.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties: ranks x = 1, 2.5, 2.5, 4 against y = 1..4 -> Pearson of the ranks
    assert bench.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert math.isnan(bench.spearman([1, 2], [1, 2]))  # too few points
    assert math.isnan(bench.spearman([1, 1, 1], [1, 2, 3]))  # no spread


def test_bootstrap_interval_brackets_rho_and_is_reproducible(bench):
    x = [1, 2, 3, 4, 5, 6, 7, 8]
    y = [2, 1, 4, 3, 6, 5, 8, 7]
    lo, hi = bench.bootstrap_interval(x, y, iters=300)
    assert lo <= bench.spearman(x, y) <= hi <= 1.0
    assert (lo, hi) == bench.bootstrap_interval(x, y, iters=300)


def test_published_pairs_agree_with_the_published_order(bench):
    position = {name: i for i, name in enumerate(bench.PUBLISHED)}
    assert sorted(bench.PUBLISHED) == sorted(bench.SEEDS)
    assert all(position[better] < position[worse] for better, worse, _ in bench.PUBLISHED_PAIRS)


def test_designs_are_the_seeds_plus_reproducible_gp_designs(bench, tmp_path):
    first = bench.make_designs(tmp_path / "a", 2, rng_seed=3)
    again = bench.make_designs(tmp_path / "b", 2, rng_seed=3)
    assert [p.stem for p in first] == [*bench.SEEDS, "gp00", "gp01"]
    for a, b in zip(first, again, strict=True):
        assert a.read_text() == b.read_text()
    GAUTree.from_json(first[-1].read_text())  # a valid design
    assert bench.make_designs(tmp_path / "a", 2, rng_seed=3) == first  # cached: same files
