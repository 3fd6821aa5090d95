"""The design page's capability profile (issue #12 part 3): a design's screen probe scores beside its
parents' and the GPT seed's, recomputed from the raw accuracies, with an empty state."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from evolution.models import Design, DesignParent, Verification
from evolution.selectors.capabilities import capability_profiles

pytest_plugins = ["web_fixtures"]
pytestmark = pytest.mark.django_db

REPORT = json.loads((Path(__file__).parent / "data" / "screen_report_gpt.json").read_text())
PROBES = ["in_context_recall", "fuzzy_recall", "noisy_recall", "selective_copying", "compression", "memorization"]


def _screen(design: Design, accuracy_shift: float = 0.0, seed: int = 42, status: str = "done") -> Verification:
    report = copy.deepcopy(REPORT)
    for name, comp in report["components"].items():
        if name.startswith("probe_"):
            comp["accuracy"] += accuracy_shift
    return Verification.objects.create(design=design, rung="screen", rung_index=0, seed=seed, status=status,
                                       report=report)


def _child(*parents: Design, name: str = "child-a") -> Design:
    child = Design.objects.create(name=name, slug=name, origin_kind="gp", mode="mutation", generation=1)
    for i, p in enumerate(parents):
        DesignParent.objects.create(child=child, parent=p, position=i)
    return child


@pytest.fixture
def gpt(seeds) -> Design:
    return next(d for d in seeds if d.name == "gpt")


@pytest.fixture
def mamba(seeds) -> Design:
    return next(d for d in seeds if d.name == "mamba2")


def test_a_screened_design_beside_its_screened_parent_and_the_gpt_seed(gpt, mamba):
    child = _child(mamba)
    _screen(child, 0.1)
    _screen(mamba, -0.05)
    _screen(gpt)
    cap = capability_profiles(child, [mamba])
    assert [(p.design.name, p.role) for p in cap["profiles"]] == [
        ("child-a", "this design"), ("mamba2", "parent"), ("gpt", "GPT seed")]
    assert cap["screened"] and cap["probes"] == PROBES
    gpt_recall = cap["profiles"][2].probes["in_context_recall"]
    raw = REPORT["components"]["probe_in_context_recall"]
    assert gpt_recall.accuracy == pytest.approx(raw["accuracy"]) and gpt_recall.chance == 0.125
    assert gpt_recall.value == pytest.approx((raw["accuracy"] - 0.125) / (1 - 0.125))
    assert gpt_recall.stderr is not None and gpt_recall.stderr > 0 and gpt_recall.n_targets == raw["n_targets"]
    mine = cap["profiles"][0].probes["memorization"]
    assert mine.value == pytest.approx((REPORT["components"]["probe_memorization"]["accuracy"] + 0.1 - 1 / 32) / (1 - 1 / 32))
    assert [s["name"] for s in cap["chart"]] == ["child-a", "mamba2", "gpt"]
    assert cap["chart"][0]["probes"][0] == "in context recall" and len(cap["chart"][0]["values"]) == 6


def test_the_value_is_recomputed_from_the_raw_accuracy_not_read_from_the_report(gpt):
    v = _screen(gpt)
    v.report["components"]["probe_compression"]["value"] = 0.99  # a forged value field
    v.save()
    score = capability_profiles(gpt, [])["profiles"][0].probes["compression"]
    assert score.value == pytest.approx((0.212890625 - 0.0625) / (1 - 0.0625))


def test_the_latest_done_screen_is_used_and_running_or_failed_ones_are_not(gpt):
    _screen(gpt, 0.0, seed=1)
    _screen(gpt, 0.2, seed=2)
    _screen(gpt, 0.4, seed=3, status="failed")
    _screen(gpt, 0.5, seed=4, status="running")
    acc = capability_profiles(gpt, [])["profiles"][0].probes["compression"].accuracy
    assert acc == pytest.approx(0.212890625 + 0.2)


def test_nothing_screened_gives_empty_profiles(gpt, mamba):
    child = _child(mamba)
    cap = capability_profiles(child, [mamba])
    assert not cap["screened"] and cap["chart"] == [] and cap["probes"] == [] and cap["rows"] == []
    assert [p.role for p in cap["profiles"]] == ["this design", "parent", "GPT seed"]


def test_the_gpt_seed_is_listed_once_as_parent_or_as_itself(gpt, mamba):
    child = _child(gpt, mamba, name="cross")
    _screen(gpt)
    cap = capability_profiles(child, [gpt, mamba])
    assert [(p.design.name, p.role) for p in cap["profiles"]] == [
        ("cross", "this design"), ("gpt", "parent (GPT seed)"), ("mamba2", "parent")]
    assert not cap["screened"] and [s["name"] for s in cap["chart"]] == ["gpt"]
    assert [(p.design.name, p.role) for p in capability_profiles(gpt, [])["profiles"]] == [("gpt", "this design")]


def test_an_unreadable_report_counts_as_not_screened(gpt):
    Verification.objects.create(design=gpt, rung="screen", rung_index=0, status="done", report={"junk": 1})
    cap = capability_profiles(gpt, [])
    assert not cap["screened"] and cap["chart"] == []


def test_the_design_page_shows_the_profile_chart_and_table(gpt, mamba, client_for, viewer):
    child = _child(mamba)
    _screen(child, 0.1)
    _screen(gpt)
    page = client_for(viewer).get(child.get_absolute_url()).content.decode()
    section = page.split('id="capabilities"')[1].split("</section>")[0]
    assert 'id="capability-chart"' in section and 'id="capabilities-empty"' not in section
    table = section.split('id="capability-table"')[1]
    assert "child-a" in table and "gpt" in table and "mamba2" in table
    assert "in context recall" in table and "not screened yet" in table  # mamba2 has no screen
    expected = (REPORT["components"]["probe_in_context_recall"]["accuracy"] - 0.125) / 0.875
    assert f"{expected:+.3f}" in table
    data = json.loads(page.split('<script id="chart-data" type="application/json">')[1].split("</script>")[0])
    assert [s["name"] for s in data["capabilities"]] == ["child-a", "gpt"]
    assert data["capabilities"][1]["values"][0] == pytest.approx(expected)


def test_the_design_page_says_not_screened_yet(gpt, mamba, client_for, viewer):
    child = _child(mamba)
    page = client_for(viewer).get(child.get_absolute_url()).content.decode()
    section = page.split('id="capabilities"')[1].split("</section>")[0]
    assert "Not screened yet" in section and 'id="capability-chart"' not in section
    assert "Neither its parents nor the GPT seed have been screened either" in section
    _screen(gpt)
    section = client_for(viewer).get(child.get_absolute_url()).content.decode().split('id="capabilities"')[1]
    assert "Not screened yet" in section and 'id="capability-chart"' in section
