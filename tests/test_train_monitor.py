"""The runtime monitor's stop conditions, the learning-rate schedule and the fitness arithmetic."""

from __future__ import annotations

import math

import pytest

from verifier.core.train.fitness import design_fitness, rung_fitness, task_accuracy, task_scores
from verifier.core.train.ladder import LADDER, baseline_for, get_rung
from verifier.core.train.monitor import RuntimeMonitor
from verifier.core.train.schedule import lr_at


def healthy_losses(n: int = 60) -> list[float]:
    """A decreasing, noisy training curve."""
    return [3.0 + 7.0 * math.exp(-i / 10) + 0.05 * math.sin(i * 1.7) for i in range(n)]


def run(monitor: RuntimeMonitor, losses, grad_norms=None, times=None):
    for i, loss in enumerate(losses):
        failure = monitor.check(i + 1, loss, grad_norms[i] if grad_norms else 1.0, times[i] if times else 0.01)
        if failure is not None:
            return failure
    return None


def test_healthy_run_is_not_stopped():
    assert run(RuntimeMonitor(step_time_limit_s=1.0), healthy_losses()) is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_inf_loss_stops_the_run(bad):
    losses = healthy_losses(20) + [bad]
    failure = run(RuntimeMonitor(), losses)
    assert failure is not None and failure.category == "nan_inf" and failure.step == 21


@pytest.mark.parametrize("bad", [2e4, 0.0, -1.0])
def test_loss_outside_plausible_range_stops_the_run(bad):
    failure = run(RuntimeMonitor(), [*healthy_losses(5), bad])
    assert failure is not None and failure.category == "loss_explosion" and failure.step == 6


def test_loss_far_above_its_running_minimum_stops_the_run():
    losses = healthy_losses(40)
    best = min(losses)
    diverging = losses + [best * 3] * 20
    failure = run(RuntimeMonitor(), diverging)
    assert failure is not None and failure.category == "loss_divergence"
    assert failure.step > 40  # only after the rise, not before


def test_divergence_is_not_judged_during_the_grace_period():
    # An early spike (warmup noise) inside the grace period is tolerated.
    losses = [10.0, 9.0, 8.0, 30.0, 7.0, 6.5, 6.0, 5.8, 5.6, 5.5, 5.4, 5.3]
    assert run(RuntimeMonitor(grace_steps=10), losses) is None


def test_gradient_norm_explosion_stops_the_run():
    losses = healthy_losses(10)
    norms = [1.0] * 9 + [5e4]
    failure = run(RuntimeMonitor(), losses, grad_norms=norms)
    assert failure is not None and failure.category == "grad_explosion" and failure.step == 10
    failure = run(RuntimeMonitor(), losses, grad_norms=[1.0] * 9 + [math.nan])
    assert failure is not None and failure.category == "nan_inf"


def test_steps_slower_than_the_limit_stop_the_run_but_single_hiccups_do_not():
    losses = healthy_losses(30)
    hiccups = [0.1] * 30
    hiccups[5] = hiccups[17] = 50.0  # one slow step (e.g. a checkpoint) is not a slow design
    assert run(RuntimeMonitor(step_time_limit_s=1.0), losses, times=hiccups) is None
    slow = [0.1] * 10 + [2.0] * 20
    failure = run(RuntimeMonitor(step_time_limit_s=1.0), losses, times=slow)
    assert failure is not None and failure.category == "too_slow"
    assert 10 < failure.step <= 16


def test_first_steps_are_not_timed():
    times = [100.0, 100.0] + [0.1] * 10  # compilation
    assert run(RuntimeMonitor(step_time_limit_s=1.0), healthy_losses(12), times=times) is None


def test_monitor_state_round_trips():
    a = RuntimeMonitor(step_time_limit_s=1.0)
    run(a, healthy_losses(20))
    b = RuntimeMonitor(step_time_limit_s=1.0)
    b.load_state_dict(a.state_dict())
    tail = [20.0] * 10
    fa, fb = run(a, tail), run(b, tail)
    assert fa is not None and fb is not None and (fa.category, fa.step) == (fb.category, fb.step)


def test_lr_schedule_warms_up_then_decays_to_ten_percent():
    total, peak = 1000, 1e-3
    lrs = [lr_at(s, total, peak) for s in range(total)]
    warmup = 20  # 2%
    assert lrs[0] == pytest.approx(peak / warmup)
    assert lrs[warmup - 1] == pytest.approx(peak)
    assert max(lrs) == pytest.approx(peak)
    assert lrs[-1] == pytest.approx(0.1 * peak)
    after = lrs[warmup - 1:]
    assert all(a >= b for a, b in zip(after, after[1:], strict=False))
    assert lrs[warmup + (total - warmup) // 2] == pytest.approx(0.55 * peak, rel=0.01)  # cosine midpoint


def test_fitness_is_accuracy_above_chance_averaged_over_tasks_and_rungs():
    results = {
        "piqa_local": {"acc": 0.60, "acc_norm": 0.62},  # acc_norm preferred
        "arc_easy_local": {"acc": 0.35},
        "blimp_local": {"acc": 0.70},
        "lambada_openai_local": {"acc": 0.10, "perplexity": 200.0},
        "wikitext_local": {"word_perplexity": 300.0},  # no accuracy: not in the fitness
    }
    assert task_accuracy(results["piqa_local"]) == 0.62
    scores = task_scores(results)
    assert set(scores) == {"piqa_local", "arc_easy_local", "blimp_local", "lambada_openai_local"}
    assert scores["piqa_local"] == pytest.approx(0.12)
    assert scores["arc_easy_local"] == pytest.approx(0.10)
    assert rung_fitness(results) == pytest.approx((0.12 + 0.10 + 0.20 + 0.10) / 4)
    assert rung_fitness(results, {"piqa": 0.6}) == pytest.approx(0.02)  # configurable baselines
    assert math.isnan(rung_fitness({"wikitext_local": {"word_perplexity": 1.0}}))
    f, confidence = design_fitness({"14M": 0.10, "31M": 0.20, "70M": math.nan})
    assert (f, confidence) == (pytest.approx(0.15), 2)
    assert design_fitness({})[1] == 0


def test_ladder_matches_the_paper():
    expected = {"14M": (128, 6, 50, 1e-3), "31M": (256, 6, 40, 1e-3), "70M": (512, 6, 30, 1e-3),
                "125M": (768, 12, 20, 6e-4), "350M": (1024, 24, 20, 3e-4)}
    for name, (d, n, tpp, lr) in expected.items():
        rung = LADDER[name]
        assert (rung.d_model, rung.n_block, rung.tokens_per_param, rung.lr) == (d, n, tpp, lr)
        assert rung.context_length == 2048 and rung.batch_tokens == 2**19
    budgets = [LADDER[n].budget for n in expected]
    assert budgets == [256, 64, 16, 4, 1]
    # 14M: reference shape 128 x 6 has 5.28M parameters with the tied 32k embedding.
    assert LADDER["14M"].target_params + 32000 * 128 == pytest.approx(5.28e6, rel=0.01)
    assert get_rung("test").name == "test" and get_rung("TINY").name == "tiny"
    assert baseline_for("hellaswag_local") == 0.25 and baseline_for("wikitext_local") is None


def test_report_is_json_safe_and_keeps_the_curve_short(tmp_path):
    import json

    from verifier.core.train.report import VerificationReport

    curve = [{"step": i + 1, "tokens": 512 * (i + 1), "loss": 10.0 - i * 0.001, "lr": 1e-3} for i in range(2500)]
    report = VerificationReport(design_name="d", design_hash="h", rung="test", loss_curve=curve,
                                val_loss=math.nan, fitness=math.inf)
    report.failure = {"category": "nan_inf", "message": "loss is nan at step 3\nmore", "step": 3}
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["val_loss"] is None and data["fitness"] is None
    assert data["error"] == "nan_inf: loss is nan at step 3"
    assert len(data["loss_curve"]) <= 1000
    assert data["loss_curve"][-1]["step"] == 2500 and data["loss_curve"][-1]["tokens"] == 2500 * 512
    assert data["loss_curve"][0]["loss"] == pytest.approx(10.0 - 0.001, abs=1e-3)  # window average
    path = report.write(tmp_path)
    assert VerificationReport.read(path).failure["category"] == "nan_inf"
