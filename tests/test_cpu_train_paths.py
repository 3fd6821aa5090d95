"""The fast CPU path trains the same model as the old one, and its thread settings reach the
sandboxed training child."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from tests.test_train_trainer import losses, make_trainer
from verifier.core.train.contained import child_env
from verifier.core.train.cpu_threads import PATHS, THREAD_ENV, TRAINING_ENV, training_env

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from bench_cpu_train import DEFAULT_TOLERANCE, loss_gap, summarise  # noqa: E402


@pytest.fixture
def one_thread():
    """A model this small gains nothing from a second thread, and on a busy machine a spinning one costs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_fused_adamw_follows_the_for_loop_adamw_step_by_step(one_thread):
    old = make_trainer(steps=8, fused_adamw=False).run()
    new = make_trainer(steps=8, fused_adamw=True).run()
    assert old.failure is None and new.failure is None
    assert losses(old)[-1] < losses(old)[0] - 0.2  # it learns, so a wrong update would show
    # The same update up to float rounding: far inside the benchmark's tolerance.
    assert loss_gap(losses(old), losses(new)) < 1e-3 < DEFAULT_TOLERANCE


def test_another_learning_rate_is_caught_by_the_tolerance(one_thread):
    old = make_trainer(steps=8).run()
    other = make_trainer(steps=8, lr=1e-3).run()
    assert loss_gap(losses(old), losses(other)) > DEFAULT_TOLERANCE


def test_loss_gap_compares_the_steps_both_curves_have():
    assert loss_gap([3.0, 2.5, 2.0], [3.0, 2.4]) == pytest.approx(0.1)
    assert loss_gap([1.0], [1.0]) == 0.0
    with pytest.raises(ValueError):
        loss_gap([], [1.0])


def test_summarise_leaves_out_the_warmup_and_reports_median_and_spread():
    runs = [{"wall_s": [9.0, 1.0, 2.0], "cpu_s": [9.0, 2.0, 2.0], "tokens_per_step": 1000, "threads": 2, "env": {}},
            {"wall_s": [9.0, 1.0, 1.0], "cpu_s": [9.0, 1.0, 1.0], "tokens_per_step": 1000, "threads": 2, "env": {}}]
    f = summarise(runs, warmup=1)
    assert f["tokens_per_s"]["all"] == pytest.approx([2000 / 3, 1000.0])
    assert f["tokens_per_s"]["min"] == pytest.approx(2000 / 3) and f["tokens_per_s"]["max"] == 1000.0
    assert f["cpu_s_per_1k_tokens"]["median"] == pytest.approx((2.0 + 1.0) / 2)


def test_the_training_child_gets_sleeping_threads_unless_the_operator_said_otherwise(tmp_path, monkeypatch):
    for key in THREAD_ENV:
        monkeypatch.delenv(key, raising=False)
    assert training_env({}) == TRAINING_ENV
    assert training_env({"OMP_WAIT_POLICY": "ACTIVE", "OMP_NUM_THREADS": "1", "API_KEY": "x"}) == {
        "OMP_WAIT_POLICY": "ACTIVE", "OMP_NUM_THREADS": "1"}
    assert child_env(tmp_path)["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    env = child_env(tmp_path)
    assert env["OMP_NUM_THREADS"] == "1" and env["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_benchmarks_paths_differ_only_in_what_they_say():
    assert not PATHS["reference"].fused_adamw and PATHS["fast"].fused_adamw
    assert "OMP_WAIT_POLICY" not in PATHS["reference"].env  # today's path: OpenMP's own default
    assert PATHS["fast"].env["OMP_WAIT_POLICY"] == "PASSIVE"
