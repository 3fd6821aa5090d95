"""The ladder is defined once (verifier.core.train.ladder) and evolution reads it: budgets keep the
paper's 4x ratio, the top rung opens last, a design's next rung, and the cost estimate and timeout
of every rung."""

from __future__ import annotations

import pytest

from evolution.core import ladder as evo
from evolution.core.loop_settings import LoopSettings, SettingsError
from verifier.core.train.ladder import (
    EXTRA_RUNGS,
    LADDER,
    TIMEOUT_FACTOR,
    TIMEOUT_FLOOR_S,
    default_budgets,
    get_rung,
    next_rung,
    open_rungs,
    rung_names,
    timeout_s,
)


def test_budgets_keep_the_papers_ratio_from_one_at_the_top_whatever_the_rungs():
    names = rung_names()
    budgets = default_budgets()
    assert list(budgets) == names == list(LADDER) and budgets[names[-1]] == 1
    for lower, upper in zip(names, names[1:], strict=False):
        assert budgets[lower] == 4 * budgets[upper], (lower, upper)
    assert {n: budgets[n] for n in ("micro", "tiny", "14M", "31M", "70M", "125M", "350M")} == {
        "micro": 4096, "tiny": 1024, "14M": 256, "31M": 64, "70M": 16, "125M": 4, "350M": 1}
    assert LADDER["14M"].budget == 256 and EXTRA_RUNGS["test"].budget == 0  # `test` is no step


def test_evolution_reads_the_engines_budgets_and_estimates():
    cpu = evo.default_budgets(has_gpu=False)
    assert cpu == {n: b for n, b in default_budgets().items() if LADDER[n].device == "cpu"} and cpu
    assert evo.default_budgets(has_gpu=True) == default_budgets()
    for name, rung in {**LADDER, **EXTRA_RUNGS}.items():
        info = evo.rung(name)
        assert (info.est_seconds, info.est_gpu_seconds, info.timeout_s) == (
            rung.est_seconds, rung.est_gpu_seconds, rung.timeout_s)


def test_the_top_rung_opens_only_when_it_is_the_lowest_rung_with_budget_left():
    assert open_rungs({"micro": 3, "tiny": 0, "14M": 5, "350M": 1}) == ["micro", "14M"]
    assert open_rungs({"micro": 0, "tiny": 0, "14M": 0, "350M": 1}) == ["350M"]
    assert open_rungs({"micro": 0, "350M": 0}) == [] and open_rungs({}) == []
    assert open_rungs({"test": 2}) == ["test"]  # a smoke-test run of the `test` rung alone


def test_next_rung_is_above_the_highest_verified_and_among_the_open_ones():
    assert next_rung([]) == rung_names()[0]
    assert next_rung(["micro"]) == "tiny" and next_rung(["350M"]) is None
    run = ["micro", "tiny", "14M"]
    assert next_rung(["tiny"], run) == "14M"  # promoted past micro: no way back down
    assert next_rung(["micro"], run, available=["micro", "14M"]) == "14M"  # tiny's budget is spent
    assert next_rung(["micro", "14M"], run) is None
    assert next_rung(["125M"], run) is None  # verified above every rung of the run
    assert next_rung(["test"], ["test"]) is None and next_rung(["test"], run) == "micro"


def test_a_rungs_timeout_comes_from_its_cost_estimate():
    big = get_rung("350M")
    assert 9.5 * 3600 < big.est_seconds < 11 * 3600  # 7B tokens at 187k tokens/s on one H100
    assert big.timeout_s > 6 * 3600 and big.timeout_s > 2 * big.est_seconds  # the old 6 h default killed it
    micro = get_rung("micro")  # CPU rungs: from the 2-core CPU reference throughput
    assert micro.est_seconds == pytest.approx(micro.train_tokens / micro.reference_tokens_per_s + micro.eval_seconds)
    assert micro.est_gpu_seconds == 0.0 and 15 * 60 < micro.timeout_s < 60 * 60
    for rung in [*LADDER.values(), *EXTRA_RUNGS.values()]:
        assert rung.timeout_s == timeout_s(rung.name) == pytest.approx(TIMEOUT_FLOOR_S + TIMEOUT_FACTOR * rung.est_seconds)
    estimates = [LADDER[n].est_seconds for n in ("14M", "31M", "70M", "125M", "350M")]
    assert estimates == sorted(estimates)  # dearer up the ladder


def test_loop_settings_take_the_timeout_from_the_rung_unless_set_by_hand():
    settings = LoopSettings()
    assert settings.timeout_for("350M") == timeout_s("350M") and settings.timeout_for("test") == timeout_s("test")
    settings = settings.updated({"verify_timeout_s": {"micro": 600}})
    assert settings.timeout_for("micro") == 600 and settings.timeout_for("tiny") == timeout_s("tiny")
    assert LoopSettings.from_dict({"release_fraction": 0.5}).timeout_for("14M") == timeout_s("14M")  # old runs load
    with pytest.raises(SettingsError, match="timeout of 1B"):
        settings.updated({"verify_timeout_s": {"1B": 600}})
    with pytest.raises(SettingsError, match="timeout of micro"):
        settings.updated({"verify_timeout_s": {"micro": -1}})


def test_the_screen_is_tinys_first_steps_on_tinys_schedule():
    screen, tiny = get_rung("screen"), get_rung("tiny")
    assert screen.kind == "screen" and next(iter(LADDER)) == "screen"
    assert (screen.d_model, screen.n_block, screen.context_length, screen.batch_tokens, screen.lr) == (
        tiny.d_model, tiny.n_block, tiny.context_length, tiny.batch_tokens, tiny.lr)
    assert screen.total_steps == 30 and screen.schedule_steps == tiny.total_steps == tiny.schedule_steps
    assert screen.to_dict()["schedule_steps"] == 256
    earlier = get_rung("screen-micro48")  # the screen before: its own warm-up and cosine, off the ladder
    assert earlier.kind == "screen" and earlier.name not in LADDER
    assert earlier.schedule_steps == earlier.total_steps == 48 and earlier.d_model == 128
