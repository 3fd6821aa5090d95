"""The parent recomputes a screen report's score from the raw probe and bpb numbers (a real report of
the GPT seed at the screen rung): a report's own component values, weights and fitness are claims,
never inputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from verifier.core.screen.run import rescore
from verifier.core.train.audit import ReportRejected, audit_report
from verifier.core.train.fitness import compute_rung_fitness
from verifier.core.train.ladder import get_rung

REPORT = json.loads((Path(__file__).parent / "data" / "screen_report_gpt.json").read_text())


def _report(**changes) -> dict:
    report = copy.deepcopy(REPORT)
    report["fitness"] = rescore(report["components"])[1]
    report.update(changes)
    return report


def _audit(report: dict):
    return audit_report(report, get_rung("screen"), rung_name="screen", design_hash=REPORT["design_hash"])


def _fitness(report: dict) -> float:
    parsed = _audit(report)
    return compute_rung_fitness("screen", parsed.eval, val_bpb=parsed.val_bpb, components=parsed.components).value


def test_an_honest_screen_report_passes_and_is_scored_from_its_raw_numbers():
    report = _report()
    value = _fitness(report)
    assert value is not None and value == pytest.approx(report["fitness"])


def test_inflated_component_values_and_weights_change_nothing():
    honest = _fitness(_report())
    forged = _report()
    for comp in forged["components"].values():
        comp["value"], comp["weight"] = 100.0, 5.0
    assert _fitness(forged) == pytest.approx(honest)


def test_a_claimed_score_above_the_raw_numbers_is_refused():
    report = _report()
    report["fitness"] += 0.1
    with pytest.raises(ReportRejected, match="claimed fitness"):
        _audit(report)


def test_impossible_raw_numbers_are_refused():
    report = _report(fitness=None)
    report["components"]["probe_in_context_recall"]["accuracy"] = 1.5
    with pytest.raises(ReportRejected, match="not in \\[0, 1\\]"):
        _audit(report)
    report = _report(fitness=None)
    report["components"]["lm_bpb"]["bpb"] = 0.5
    with pytest.raises(ReportRejected, match="val_bpb"):
        _audit(report)
