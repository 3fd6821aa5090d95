"""A run that selects on bpb selects on the screen's own bits per byte (its combined score did not
predict micro's validation loss; its bpb did): the stored fitness is -val_bpb, recomputed from the
report's raw numbers. By default, a run whose rungs above the screen are all CPU rungs selects on the
screen's bpb too (it predicts tiny's loss better than the score), and a run with GPU rungs keeps the
screen score."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from evolution.models import Design, EvolutionRun, Verification
from evolution.services.verifications import record_report
from verifier.core.screen.run import rescore

pytest_plugins = ["web_fixtures"]
pytestmark = pytest.mark.django_db

REPORT = json.loads((Path(__file__).parent / "data" / "screen_report_gpt.json").read_text())


def _verified(design: Design, metric: str, name: str, budgets: dict[str, int] | None = None) -> Verification:
    run = EvolutionRun.objects.create(name=name, budgets=budgets or {"screen": 4, "14M": 1},
                                      settings={"fitness_metric": metric})
    report = copy.deepcopy(REPORT)
    report["design_hash"] = design.tree_hash
    report["fitness"] = None  # claims nothing: the parent computes its own
    v = Verification.objects.create(design=design, rung="screen", rung_index=0, seed=42 if metric == "bpb" else 1,
                                    status="running", run=run)
    return record_report(v, report)


def test_bpb_run_stores_minus_the_screen_bpb_and_a_default_run_the_screen_score(seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    by_bpb = _verified(gpt, "bpb", "bpb-run")
    assert by_bpb.error == "", by_bpb.error
    assert (by_bpb.status, by_bpb.fitness_metric) == ("done", "bpb")
    assert by_bpb.fitness == pytest.approx(-REPORT["val_bpb"], abs=1e-12)
    default = _verified(gpt, "default", "default-run")
    assert (default.status, default.fitness_metric) == ("done", "screen")
    assert default.fitness == pytest.approx(rescore(REPORT["components"])[1], abs=1e-12)
    assert default.fitness != by_bpb.fitness


@pytest.mark.parametrize(("budgets", "metric"), [
    ({"screen": 4}, "bpb"),  # the screen alone
    ({"screen": 16, "micro": 4, "tiny": 1}, "bpb"),  # CPU rungs above it
    ({"screen": 16, "micro": 4, "14M": 0}, "bpb"),  # a GPU rung with no budget is not verified at
    ({"screen": 16, "tiny": 4, "125M": 1}, "screen"),  # a GPU rung above it
])
def test_by_default_a_cpu_only_run_selects_on_the_screens_bpb(seeds, budgets, metric):
    gpt = next(d for d in seeds if d.name == "gpt")
    v = _verified(gpt, "default", "run-" + "-".join(f"{k}{n}" for k, n in budgets.items()), budgets)
    assert (v.status, v.fitness_metric) == ("done", metric), v.error
    expected = -REPORT["val_bpb"] if metric == "bpb" else rescore(REPORT["components"])[1]
    assert v.fitness == pytest.approx(expected, abs=1e-12)


def test_a_claimed_bpb_that_disagrees_with_the_raw_numbers_is_not_taken(seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    run = EvolutionRun.objects.create(name="liar", budgets={"screen": 4}, settings={"fitness_metric": "bpb"})
    report = copy.deepcopy(REPORT)
    report["design_hash"] = gpt.tree_hash
    report["fitness"] = 99.0  # the design's process claims a number: never used
    v = record_report(Verification.objects.create(design=gpt, rung="screen", rung_index=0, seed=3,
                                                  status="running", run=run), report)
    assert (v.status, v.fitness) == ("failed", None)
    assert v.error.startswith("report_rejected: claimed fitness 99.0 differs")
