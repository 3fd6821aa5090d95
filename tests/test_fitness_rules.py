"""Fitness written down (verifier/core/train/fitness.py) and the audit of untrusted reports
(verifier/core/train/audit.py): plain functions, no database."""

from __future__ import annotations

import copy
import math
import random

import pytest

from evolution.demo import fake_report
from verifier.core.train.audit import ReportRejected, audit_report
from verifier.core.train.fitness import (
    Part,
    RungFitness,
    RungStats,
    combine,
    compute_rung_fitness,
    metric_for,
    paired_comparison,
    z_term,
)
from verifier.core.train.ladder import get_rung


def test_each_rung_has_a_default_metric_and_a_run_may_choose_another():
    assert metric_for("125M", "cuda") == "accuracy"  # Equation 1 at the GPU rungs
    assert metric_for("micro", "cpu") == "likelihood"  # accuracy is at chance there
    assert metric_for("14M", "cuda", "likelihood") == "likelihood"
    assert metric_for("screen", "cpu", "accuracy") == "screen"  # the screen has its own score
    assert metric_for("screen", "cpu") == "screen"
    assert metric_for("screen", "cpu", "bpb") == "bpb"  # a run selecting on bpb: the screen's bpb
    assert metric_for("screen", "cpu", gpu_above=False) == "bpb"  # only CPU rungs above: the loss ladder
    assert metric_for("screen", "cpu", "accuracy", gpu_above=False) == "screen"  # an explicit choice stays
    with pytest.raises(ValueError, match="unknown fitness metric"):
        metric_for("micro", "cpu", "vibes")


def test_accuracy_fitness_recomputes_the_stderr_from_p_and_n():
    rows = {"piqa_local": {"acc": 0.6, "acc_norm": 0.55, "acc_norm_stderr": 0.0001, "samples": 100},
            "blimp_local": {"acc": 0.7, "acc_stderr": 0.02, "samples": 335},
            "wikitext_local": {"word_perplexity": 800.0}}
    score = compute_rung_fitness("accuracy", rows, groups={"blimp": 67})
    piqa, blimp = score.parts["piqa_local"], score.parts["blimp_local"]
    assert piqa.value == pytest.approx(0.05) and piqa.stderr == pytest.approx(math.sqrt(0.55 * 0.45 / 99))
    assert blimp.stderr == 0.02  # a group pools subtasks: its reported stderr is used
    assert "wikitext_local" not in score.parts  # not an accuracy task
    assert score.value == pytest.approx((0.05 + 0.2) / 2)
    assert score.stderr == pytest.approx(math.hypot(piqa.stderr, 0.02) / 2)


def test_likelihood_and_bpb_fitness_and_missing_raw_results():
    rows = {"piqa_local": {"acc": 0.5, "logprob_per_byte": -1.0, "logprob_per_byte_stderr": 0.03, "docs": 100},
            "hellaswag_local": {"acc": 0.25, "logprob_per_byte": -2.0, "logprob_per_byte_stderr": 0.04, "docs": 100}}
    score = compute_rung_fitness("likelihood", rows)
    assert (score.value, score.stderr) == (pytest.approx(-1.5), pytest.approx(0.025))
    assert compute_rung_fitness("likelihood", {"piqa_local": {"acc": 0.5}}).value is None
    bpb = compute_rung_fitness("bpb", {}, val_bpb=1.25)
    assert (bpb.value, bpb.stderr) == (-1.25, None)  # lower bpb is better; no within-run stderr
    # The screen's value comes from the raw probe accuracies and bpb, never from claimed values.
    import json
    from pathlib import Path

    from verifier.core.screen.run import rescore

    raw = json.loads((Path(__file__).parent / "data" / "screen_report_gpt.json").read_text())["components"]
    claimed = {name: {**comp, "value": 99.0, "weight": 9.0} for name, comp in raw.items()}
    screen = compute_rung_fitness("screen", {}, components=claimed)
    assert screen.value == pytest.approx(rescore(raw)[1]) and set(screen.parts) == set(raw)


def test_rung_fitness_round_trips_through_json():
    score = compute_rung_fitness("accuracy", {"piqa_local": {"acc": 0.6, "samples": 10}})
    assert RungFitness.from_dict(score.to_dict()) == score


def test_F_never_averages_units_a_rung_rescaled_gives_the_same_F():
    micro = RungStats.of([-1.2, -1.0, -1.1, -0.9])
    big = RungStats.of([0.05, 0.10, 0.02])
    terms = [z_term("micro", "likelihood", -0.9, 0.01, micro), z_term("125M", "accuracy", 0.10, 0.01, big)]
    scaled = RungStats.of([1000 * v for v in (0.05, 0.10, 0.02)])
    rescaled = [terms[0], z_term("125M", "accuracy", 100.0, 10.0, scaled)]
    f, g = combine(terms), combine(rescaled)
    assert f.fitness == pytest.approx(g.fitness) and f.std == pytest.approx(g.std)
    assert f.fitness == pytest.approx((terms[0].z + terms[1].z) / 2)
    low, high = f.interval
    assert low < f.fitness < high


def test_awkward_populations_one_design_ties_and_unknown_stderr():
    alone = z_term("micro", "likelihood", -1.0, 0.02, RungStats.of([-1.0]))
    assert (alone.z, alone.z_std) == (0.0, 1.0)  # nothing to compare with: a z-score's own spread
    tied = z_term("micro", "likelihood", -1.0, 0.02, RungStats.of([-1.0, -1.0, -1.0]))
    assert tied.z == 0.0
    unknown = z_term("micro", "bpb", -1.5, None, RungStats.of([-1.5, -1.6]))
    assert unknown.z_std is None and combine([unknown]).std is None
    with_noise = z_term("micro", "bpb", -1.5, None, RungStats.of([-1.5, -1.6]), noise=0.05)
    assert with_noise.z_std == pytest.approx(0.05 / RungStats.of([-1.5, -1.6]).sd)
    assert combine([]).fitness is None


def _fit(values, stderr=0.01, n=100, metric="accuracy"):
    return RungFitness(metric, sum(values) / len(values), None,
                       {f"t{i}": Part(v, stderr, n) for i, v in enumerate(values)})


def test_paired_comparison_calls_better_only_beyond_the_noise():
    parent = _fit([0.10, 0.20, 0.30])
    assert paired_comparison(_fit([0.15, 0.25, 0.35]), parent).verdict == "better"
    assert paired_comparison(_fit([0.05, 0.15, 0.25]), parent).verdict == "worse"
    close = paired_comparison(_fit([0.105, 0.205, 0.305]), parent)
    assert close.verdict == "unclear" and close.difference == pytest.approx(0.005) and close.shared == 3
    assert paired_comparison(_fit([0.15, 0.25, 0.35]), parent, noise=0.1).verdict == "unclear"
    assert paired_comparison(_fit([0.5] * 3, n=50), parent).verdict == "not comparable"  # other documents
    assert paired_comparison(_fit([0.5] * 3, metric="likelihood"), parent).verdict == "not comparable"
    assert paired_comparison(_fit([0.5] * 3, stderr=None), _fit([0.1] * 3, stderr=None)).verdict == "unclear"


# ---- forged reports -----------------------------------------------------------------------------

HASH = "abc123"


def honest(rung: str = "micro") -> dict:
    return fake_report(rung, 0.1, random.Random(7), design_hash=HASH)


def audit(report: dict, rung: str = "micro"):
    return audit_report(report, get_rung(rung), rung_name=rung, design_hash=HASH)


def test_an_honest_report_passes_at_cpu_and_gpu_rungs():
    for rung in ("micro", "tiny", "test", "14M", "125M"):
        assert audit(honest(rung), rung).rung == rung


def _forge(change):
    report = copy.deepcopy(honest())
    change(report)
    return report


FORGERIES = {
    "claimed fitness": (lambda r: r.update(fitness=r["fitness"] + 0.05), "claimed fitness"),
    "claimed task score": (lambda r: r["task_scores"].update(piqa=0.4), "claimed score of piqa"),
    "accuracy above 1": (lambda r: r["eval"]["piqa"].update(acc=1.2), "outside"),
    "accuracy not k/n": (lambda r: r["eval"]["piqa"].update(acc=0.5123), "whole number"),
    "impossible stderr": (lambda r: r["eval"]["piqa"].update(acc_stderr=0.001), "impossible"),
    "task the rung does not run": (lambda r: r["eval"].update(sciq={"acc": 0.9, "samples": 100}), "not run at rung"),
    "more documents than the limit": (lambda r: r["eval"]["piqa"].update(samples=1000, docs=1000), "limit"),
    "positive log-probability": (lambda r: r["eval"]["piqa"].update(logprob_per_byte=0.3), "positive"),
    "negative stderr": (lambda r: r["eval"]["piqa"].update(logprob_per_byte_stderr=-0.1), "negative"),
    "not a number": (lambda r: r["eval"]["piqa"].update(acc="0.9"), "not a finite number"),
    "bpb disagrees with the loss": (lambda r: r.update(val_bpb=0.5), "val_bpb"),
    "perplexity disagrees with the loss": (lambda r: r.update(val_perplexity=2.0), "val_perplexity"),
    "another rung": (lambda r: r.update(rung="125M"), "rung"),
    "another design": (lambda r: r.update(design_hash="fff"), "design"),
    "eval rows not objects": (lambda r: r.update(eval={"piqa": 0.9}), "object"),
    "no design named": (lambda r: r.pop("design_name"), "not a verification report"),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forged_report_is_refused_with_its_reason(name):
    change, reason = FORGERIES[name]
    with pytest.raises(ReportRejected, match=reason):
        audit(_forge(change))


def test_a_report_that_is_not_an_object_is_refused():
    with pytest.raises(ReportRejected, match="not a JSON object"):
        audit(["fitness", 1.0])  # type: ignore[arg-type]


def test_spearman_with_ties_too_few_designs_and_no_spread():
    from evolution.core.ranks import average_ranks, spearman

    assert average_ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833)  # ties share a rank
    assert spearman([1, 2], [1, 2]) is None  # n < 3: undefined, not ±1
    assert spearman([5, 5, 5], [1, 2, 3]) is None  # no spread on one side
    with pytest.raises(ValueError, match="different lengths"):
        spearman([1, 2, 3], [1, 2])


def test_a_real_test_rung_report_passes_the_audit():
    # What `python -m verifier.core verify gpt --rung test` wrote (2-core CPU, with the likelihood
    # rows of the evaluation and the validation bits per byte).
    real = {
        "design_name": "gpt", "design_hash": HASH, "rung": "test", "status": "done", "fitness": -0.1,
        "task_scores": {"piqa_local": -0.2, "lambada_openai_local": 0.0},
        "val_loss": 7.646614670753479, "val_perplexity": 2093.546236074144, "val_bpb": 2.8239457783134783,
        "val_bytes_per_token": 3.906496062992126,
        "eval": {
            "piqa_local": {"acc": 0.5, "acc_stderr": 0.16666666666666666, "acc_norm": 0.3,
                           "acc_norm_stderr": 0.15275252316519464, "samples": 10, "limit": 10, "docs": 10,
                           "logprob_per_byte": -2.2298994458717187, "logprob_per_byte_stderr": 0.09684600578629808,
                           "margin": -0.021002932656990225, "margin_stderr": 0.050166473440260304},
            "lambada_openai_local": {"acc": 0.0, "acc_stderr": 0.0, "perplexity": 5409465.619970457,
                                     "perplexity_stderr": 53604442.83227908, "samples": 10, "limit": 10, "docs": 10,
                                     "logprob_per_byte": -2.2685436591647923,
                                     "logprob_per_byte_stderr": 0.22252449492206722},
        },
    }
    report = audit(real, "test")
    accuracy = compute_rung_fitness("accuracy", report.eval)
    assert accuracy.value == pytest.approx(-0.1) and accuracy.stderr == pytest.approx(0.15275252 / 2)
    likelihood = compute_rung_fitness("likelihood", report.eval)
    assert likelihood.value == pytest.approx(-2.2492215525) and likelihood.stderr == pytest.approx(0.1213427992)
    assert compute_rung_fitness("bpb", report.eval, val_bpb=report.val_bpb).value == pytest.approx(-2.8239457783)
