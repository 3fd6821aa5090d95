"""The measured seed-to-seed noise reaches the numbers it should widen: F's std and the paired
comparison with a parent (it was looked up under an attribute no rung had, so it never did)."""

import math

import pytest

from evolution.selectors.fitness import seed_noise
from verifier.core.train.fitness import Part, RungFitness, RungStats, paired_comparison, z_term
from verifier.core.train.ladder import get_rung


def test_micro_noise_is_measured_per_metric_and_unknown_metrics_and_rungs_have_none():
    micro = get_rung("micro")
    for metric in ("accuracy", "likelihood", "bpb"):
        value = micro.seed_noise(metric)
        assert value is not None and 0 < value < 1
        assert value == micro.noise[f"fitness:{metric}"]
    assert micro.seed_noise("nonsense") is None
    assert get_rung("125M").seed_noise("accuracy") is None  # not measured: nothing is invented
    assert seed_noise("no-such-rung", "accuracy") is None
    assert seed_noise("micro", "likelihood") == micro.noise["fitness:likelihood"]


def test_tiny_carries_the_loss_noise_it_was_measured_with_and_nothing_for_unmeasured_metrics():
    tiny = get_rung("tiny")
    assert tiny.seed_noise("bpb") == tiny.noise["fitness:bpb"] > 0  # measured without evaluation
    assert seed_noise("tiny", "bpb") == tiny.noise["fitness:bpb"]
    assert tiny.seed_noise("likelihood") is None and tiny.seed_noise("accuracy") is None
    # a noise as large as micro's, at a quarter of the rung's spread of losses: it must not be zero
    assert 0 < tiny.noise["val_loss"] < 0.5


def test_the_screen_adds_no_second_noise_its_component_stderrs_already_carry_it():
    assert get_rung("screen").noise["score"] > 0
    assert get_rung("screen").seed_noise("screen") is None
    assert get_rung("screen").seed_noise("bpb") == get_rung("screen").noise["lm_bpb"]  # bpb has no stderr


def _fit(values: dict[str, float], stderr: float) -> RungFitness:
    return RungFitness("likelihood", sum(values.values()) / len(values), None,
                       {k: Part(v, stderr, 100) for k, v in values.items()})


def test_a_gain_inside_the_seed_noise_is_not_called_better():
    parent = _fit({"piqa": -2.00, "copa": -1.80}, 0.002)
    child = _fit({"piqa": -1.985, "copa": -1.785}, 0.002)  # +0.015 on both tasks
    assert paired_comparison(child, parent).verdict == "better"  # sampling error alone
    noisy = paired_comparison(child, parent, seed_noise("micro", "likelihood"))
    assert noisy.verdict == "unclear"  # two training seeds differ by about that much
    assert noisy.stderr == pytest.approx(math.sqrt(0.002**2 + 2 * get_rung("micro").noise["fitness:likelihood"] ** 2))


def test_the_noise_widens_a_rung_term_of_f():
    stats = RungStats(mean=-2.0, sd=0.05, n=10)
    plain = z_term("micro", "likelihood", -1.95, 0.004, stats)
    noisy = z_term("micro", "likelihood", -1.95, 0.004, stats, seed_noise("micro", "likelihood"))
    assert noisy.z == plain.z
    assert noisy.z_std > plain.z_std
