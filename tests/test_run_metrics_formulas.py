"""Table 2's formulas on series checked by hand (evolution.core.run_metrics): no database."""

from __future__ import annotations

import math
import random
import time

import pytest

from evolution.core import run_metrics as rm


def test_a_short_series_by_hand():
    # Population after 0, 1, 2 designs: mean 1, 2, 2; best 1, 3, 3. Increments of the mean: 1, 0.
    m = rm.curve_metrics([1.0, 3.0, 2.0])
    assert rm.cumulative_mean([1.0, 3.0, 2.0]) == [1.0, 2.0, 2.0]
    assert rm.cumulative_max([1.0, 3.0, 2.0]) == [1.0, 3.0, 3.0]
    assert (m.n, m.initial, m.start_mean, m.final_mean, m.final_max) == (3, 0, 1.0, 2.0, 3.0)
    assert m.delta == 1.0 and m.delta_max == 2.0
    assert m.volatility == pytest.approx(math.sqrt(0.5))  # stdev(1, 0) with n - 1
    assert m.sharpe == pytest.approx(0.5 / math.sqrt(0.5))
    assert m.max_drawdown == 0.0


def test_an_initial_population_is_the_start_and_a_fall_is_a_drawdown():
    # Seeds 0 and 2 (mean 1); then 4, -2, 1: means 1, 2, 1, 1; best 2, 4, 4, 4.
    m = rm.curve_metrics([4.0, -2.0, 1.0], initial=[0.0, 2.0])
    assert rm.cumulative_mean([4.0, -2.0, 1.0], [0.0, 2.0]) == [1.0, 2.0, 1.0, 1.0]
    assert (m.start_mean, m.final_mean, m.delta, m.delta_max) == (1.0, 1.0, 0.0, 2.0)
    assert m.volatility == pytest.approx(1.0)  # stdev(1, -1, 0)
    assert m.sharpe == 0.0  # mean increment 0
    assert m.max_drawdown == pytest.approx(1.0)  # from the peak 2 down to 1


def test_first_n_cuts_the_series_and_a_negative_n_is_refused():
    m = rm.curve_metrics([4.0, -2.0, 1.0], initial=[0.0, 2.0], first_n=1)
    assert (m.n, m.final_mean, m.delta) == (1, 2.0, 1.0)
    with pytest.raises(ValueError, match="first_n"):
        rm.curve_metrics([1.0], first_n=-1)


def test_empty_and_one_point():
    empty = rm.curve_metrics([])
    assert empty.to_dict() == {"n": 0, "initial": 0, "start_mean": None, "final_mean": None, "final_max": None,
                               "delta": None, "delta_max": None, "sharpe": None, "volatility": None,
                               "max_drawdown": None}
    one = rm.curve_metrics([-0.7])
    assert (one.delta, one.delta_max, one.max_drawdown) == (0.0, 0.0, 0.0)
    assert one.volatility is None and one.sharpe is None  # no increment to judge
    two = rm.curve_metrics([-0.7, -0.5])  # one increment: a mean but no spread
    assert two.delta == pytest.approx(0.1) and two.volatility is None and two.sharpe is None
    # Seeds only: the curve is one point.
    assert rm.curve_metrics([], initial=[1.0, 3.0]).final_mean == 2.0


def test_ties_and_constant_series_sharpe_with_zero_volatility():
    flat = rm.curve_metrics([2.0, 2.0, 2.0, 2.0])
    assert (flat.delta, flat.volatility, flat.sharpe, flat.max_drawdown) == (0.0, 0.0, 0.0, 0.0)
    # Every step gains the same: 0, 2, 4 → means 0, 1, 2, increments 1, 1; the ratio is undefined.
    steady = rm.curve_metrics([0.0, 2.0, 4.0])
    assert steady.volatility == 0.0 and steady.sharpe is None and steady.delta == 2.0
    # Equal best values do not move Δmax.
    assert rm.curve_metrics([5.0, 5.0, 1.0]).delta_max == 0.0


def test_drawdown_is_measured_from_the_running_peak():
    assert rm.max_drawdown([0.0, 3.0, 1.0, 4.0, 0.5, 2.0]) == pytest.approx(3.5)
    assert rm.max_drawdown([5.0, 4.0, 3.0]) == pytest.approx(2.0)
    assert rm.max_drawdown([1.0, 2.0, 3.0]) == 0.0
    assert rm.max_drawdown([]) is None


def test_huge_series_and_huge_values():
    values = [float(i % 10) for i in range(200_000)]
    started = time.perf_counter()
    m = rm.curve_metrics(values)
    assert time.perf_counter() - started < 5
    assert m.final_mean == pytest.approx(4.5) and m.final_max == 9.0 and m.delta == pytest.approx(4.5)
    # ±1e308 neither overflows the running mean nor the drawdown.
    big = rm.curve_metrics([1e308, -1e308, 1e308])
    assert big.final_mean == pytest.approx(1e308 / 3, rel=1e-9)
    assert math.isfinite(big.max_drawdown)


def test_the_bootstrap_band_holds_the_curve_and_is_deterministic():
    rng_values = random.Random(1)
    values = [0.1 * k + rng_values.gauss(0, 0.2) for k in range(30)]
    boot = rm.bootstrap(values, [0.05] * 30, initial=[0.0], resamples=200, rng=random.Random(7))
    curve = rm.cumulative_mean(values, [0.0])
    assert len(boot.band_low) == len(curve) == 31
    inside = sum(lo <= y <= hi for lo, y, hi in zip(boot.band_low, curve, boot.band_high, strict=True))
    assert inside >= 29
    again = rm.bootstrap(values, [0.05] * 30, initial=[0.0], resamples=200, rng=random.Random(7))
    assert again.metrics == boot.metrics
    low, high = boot.interval("delta")
    assert low < rm.curve_metrics(values, [0.0]).delta < high
    with pytest.raises(ValueError, match="standard errors"):
        rm.bootstrap([1.0, 2.0], [0.1])


def test_a_clear_difference_exceeds_the_noise_and_no_difference_does_not():
    rng = random.Random(3)
    flat = [rng.gauss(0.0, 0.1) for _ in range(40)]
    rising = [0.05 * k + rng.gauss(0.0, 0.1) for k in range(40)]
    a = rm.bootstrap(flat, resamples=300, rng=random.Random(1))
    b = rm.bootstrap(rising, resamples=300, rng=random.Random(2))
    c = rm.bootstrap(flat, resamples=300, rng=random.Random(3))
    ma, mb = rm.curve_metrics(flat), rm.curve_metrics(rising)
    verdict = rm.compare("final_mean", ma.final_mean, mb.final_mean, a.metrics["final_mean"], b.metrics["final_mean"])
    assert verdict.exceeds_noise is True and verdict.label == "exceeds the noise"
    assert verdict.difference == pytest.approx(mb.final_mean - ma.final_mean)
    same = rm.compare("final_mean", ma.final_mean, ma.final_mean, a.metrics["final_mean"], c.metrics["final_mean"])
    assert same.exceeds_noise is False and same.label == "within the noise"
    few = rm.compare("final_mean", ma.final_mean, mb.final_mean, a.metrics["final_mean"], b.metrics["final_mean"], n=4)
    assert few.exceeds_noise is None and few.interval is None  # four designs: the bootstrap is too coarse
    nothing = rm.compare("sharpe", None, None, [None] * 300, [None] * 300)
    assert nothing.exceeds_noise is None and nothing.label == "not enough data"


def test_rates_designers_and_buckets():
    assert rm.share(3, 4) == 0.75 and rm.share(0, 0) is None
    draws = rm.rate_draws([True] * 9 + [False], resamples=500, rng=random.Random(0))
    assert 0.85 < sum(draws) / len(draws) < 0.95
    assert rm.rate_draws([], resamples=3) == [None, None, None]
    assert rm.designer_key("gp", {"operator": "swap"}) == "gp"
    assert rm.designer_key("llm", {"models": {"proposer": "m1", "coder": "m2"}}) == "llm: coder=m2, proposer=m1"
    assert rm.designer_key("llm", {}) == "llm"
    assert rm.mean_sd([2.0, 4.0]) == (3.0, pytest.approx(math.sqrt(2))) and rm.mean_sd([]) == (None, None)
    assert rm.bucket_index(299.0, 300) == 0 and rm.bucket_index(300.0, 300) == 1 and rm.bucket_index(-5, 300) == 0
    with pytest.raises(ValueError):
        rm.bucket_index(1.0, 0)


@pytest.mark.parametrize("initial", [(), (0.5, -1.0)])
def test_each_bootstrap_row_is_the_formula_of_that_resample(initial):
    import numpy as np

    rng = np.random.default_rng(4)
    rows = [rng.normal(size=12), np.full(12, 2.0), np.arange(12.0) * 2, rng.integers(0, 3, size=12).astype(float)]
    drawn = np.vstack(rows)
    metrics, means = rm._block_metrics(drawn, initial)
    for i, row in enumerate(rows):
        expected = rm.curve_metrics(row.tolist(), initial)
        assert means[i].tolist() == pytest.approx(rm.cumulative_mean(row.tolist(), initial))
        for name in rm.METRIC_NAMES:
            want, got = getattr(expected, name), metrics[name][i]
            assert (got is None) == (want is None), (i, name, got, want)
            if want is not None:
                assert got == pytest.approx(want, abs=1e-9), (i, name)


def test_bootstrap_of_nothing_and_of_one_design():
    empty = rm.bootstrap([], [], initial=[1.0, 3.0], resamples=5)
    assert empty.metrics["final_mean"] == [2.0] * 5 and empty.band_low == [2.0]
    one = rm.bootstrap([4.0], [None], resamples=30)
    assert set(one.metrics["final_mean"]) == {4.0} and one.metrics["sharpe"] == [None] * 30
