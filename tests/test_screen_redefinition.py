"""The screen was redefined twice (#12). Screens stored under an earlier definition keep their own
definition's rung name after migrating (0012), so F never mixes them with the current screen and the
design can be screened again; `refresh_fitness` then recomputes F; a report made under an earlier
definition is refused at record time."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from evolution.demo import build_history
from evolution.models import Design, EvolutionRun, Verification
from evolution.services.verifications import record_report, refresh_all_fitness
from verifier.core.train.ladder import SCREEN, SCREEN_65K, SCREEN_MICRO48

pytest_plugins = ["web_fixtures"]

BEFORE = [("evolution", "0011_design_fingerprint")]
AFTER = [("evolution", "0012_screens_keep_their_definition")]
REPORT = json.loads((Path(__file__).parent / "data" / "screen_report_gpt.json").read_text())


def _report(rung_def) -> dict:
    return {"rung": "screen", "status": "done", "config": {"rung": {**rung_def.to_dict(), "name": "screen"}}}


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_screens_of_earlier_definitions_and_only_those():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    OldDesign, OldVerification = apps.get_model("evolution", "Design"), apps.get_model("evolution", "Verification")
    designs = [OldDesign.objects.create(name=f"d{i}", slug=f"d{i}", origin_kind="gp") for i in range(4)]
    rows = {
        "micro48": OldVerification.objects.create(design=designs[0], rung="screen", seed=42, status="done",
                                                  report=_report(SCREEN_MICRO48), fitness=-2.5),
        "65k": OldVerification.objects.create(design=designs[1], rung="screen", seed=42, status="done",
                                              report=_report(SCREEN_65K), fitness=-2.55),
        "current": OldVerification.objects.create(design=designs[2], rung="screen", seed=42, status="done",
                                                  report=_report(SCREEN), fitness=-2.6),
        "queued": OldVerification.objects.create(design=designs[3], rung="screen", seed=42, status="queued"),
        "no config": OldVerification.objects.create(design=designs[3], rung="screen", seed=1, status="failed",
                                                    report={"status": "failed"}),
        "odd report": OldVerification.objects.create(design=designs[3], rung="screen", seed=2, status="failed",
                                                     report=["not", "a", "report"]),
        "odd config": OldVerification.objects.create(design=designs[3], rung="screen", seed=3, status="failed",
                                                     report={"config": {"rung": {"context_length": [256]}}}),
        # micro's own rows share the micro-48 screen's context and step size: not a screen, untouched
        "micro": OldVerification.objects.create(design=designs[0], rung="micro", rung_index=1, seed=42,
                                                status="done", report=_report(SCREEN_MICRO48), fitness=-2.4),
        # the same design, seed and definition stored twice (as `screen` and under its own name): one kept
        "twice": OldVerification.objects.create(design=designs[2], rung="screen", seed=7, status="done",
                                                report=_report(SCREEN_MICRO48), fitness=-2.51),
        "own name": OldVerification.objects.create(design=designs[2], rung="screen-micro48", rung_index=9, seed=7,
                                                   status="done", report=_report(SCREEN_MICRO48), fitness=-2.52),
    }
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    after = {key: Verification.objects.filter(id=row.id).values_list("rung", "rung_index").first()
             for key, row in rows.items()}
    assert after == {
        "micro48": ("screen-micro48", 9), "65k": ("screen-65k", 10), "current": ("screen", 0),
        "queued": ("screen", 0), "no config": ("screen", 0), "odd report": ("screen", 0), "odd config": ("screen", 0),
        "micro": ("micro", 1),
        "twice": None, "own name": ("screen-micro48", 9),
    }
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # the rest of the schema, as the other tests expect


def _record(design: Design, run: EvolutionRun, seed: int, report: dict, rung: str = "screen") -> Verification:
    report = {**copy.deepcopy(report), "design_hash": design.tree_hash, "fitness": None, "rung": rung}
    verification = Verification.objects.create(design=design, rung=rung, rung_index=0, seed=seed, status="running",
                                               run=run)
    return record_report(verification, report)


@pytest.mark.django_db
def test_a_report_made_under_an_earlier_definition_is_refused_with_what_differs(seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    run = EvolutionRun.objects.create(name="r", budgets={"screen": 4}, settings={"fitness_metric": "bpb"})
    old = copy.deepcopy(REPORT)
    old["config"]["rung"] = {**SCREEN_MICRO48.to_dict(), "name": "screen"}
    refused = _record(gpt, run, 1, old)
    assert refused.status == "failed" and refused.fitness is None
    assert refused.error.startswith("report_rejected: the report was made under another definition of rung screen")
    assert "context_length 256 (now 512)" in refused.error and "total_steps 48 (now 30)" in refused.error
    assert refused.report["config"]["rung"]["context_length"] == 256  # the report is kept as sent
    taken = _record(gpt, run, 2, REPORT)
    assert (taken.status, taken.error) == ("done", "")


@pytest.mark.django_db
def test_refresh_fitness_drops_a_renamed_screen_from_f_and_changes_nothing_when_f_is_current(seeds):
    build_history(10, seed=3, demo=False)
    call_command("refresh_fitness")  # what the incremental updates left
    assert refresh_all_fitness() == 0
    gpt, mamba = (next(d for d in seeds if d.name == name) for name in ("gpt", "mamba2"))
    gpt.refresh_from_db()
    confidence, fitness, std = gpt.confidence, gpt.fitness, gpt.fitness_std  # from the history's other rungs
    assert confidence >= 1 and fitness is not None
    run = EvolutionRun.objects.create(name="r", budgets={"screen": 4}, settings={"fitness_metric": "bpb"})
    for design, seed in ((gpt, 42), (mamba, 42)):
        assert _record(design, run, seed, REPORT).status == "done"
    gpt.refresh_from_db()
    assert (gpt.confidence, gpt.fitness != fitness) == (confidence + 1, True)
    # what the migration does to a screen of an earlier definition, then the command after it
    Verification.objects.filter(design=gpt, rung="screen").update(rung="screen-micro48", rung_index=9)
    assert refresh_all_fitness() >= 1
    gpt.refresh_from_db()
    assert gpt.confidence == confidence
    assert (gpt.fitness, gpt.fitness_std) == (pytest.approx(fitness), pytest.approx(std))  # as before the screen
    assert gpt.verifications.get(rung="screen-micro48").fitness is not None  # kept and shown, not counted
    assert refresh_all_fitness() == 0


@pytest.mark.django_db
def test_the_design_page_shows_an_earlier_screen_off_the_ladder_with_its_probes(seeds, client_for, viewer):
    mamba = next(d for d in seeds if d.name == "mamba2")
    old = copy.deepcopy(REPORT)
    old["rung"], old["config"]["rung"] = "screen-micro48", SCREEN_MICRO48.to_dict()
    Verification.objects.create(design=mamba, rung="screen-micro48", rung_index=9, seed=42, status="done",
                                report=old, fitness=-2.5, fitness_metric="bpb")  # as migration 0012 leaves it
    refresh_all_fitness()
    page = client_for(viewer).get(mamba.get_absolute_url()).content.decode()
    table = page.split('id="verification-table"')[1].split("</table>")[0]
    assert "screen-micro48" in table and "off the ladder: not in F" in table
    profile = page.split('id="capabilities"')[1].split("</section>")[0]
    assert 'id="capability-chart"' in profile and "from screen-micro48" in profile  # the same probes, still shown
    mamba.refresh_from_db()
    assert (mamba.confidence, mamba.fitness) == (0, None)

    run = EvolutionRun.objects.create(name="r", budgets={"screen": 4}, settings={"fitness_metric": "bpb"})
    assert _record(mamba, run, 42, REPORT).status == "done"  # screened again under today's definition
    page = client_for(viewer).get(mamba.get_absolute_url()).content.decode()
    table = page.split('id="verification-table"')[1].split("</table>")[0]
    assert table.count("off the ladder: not in F") == 1  # the current screen counts
    profile = page.split('id="capabilities"')[1].split("</section>")[0]
    assert "from screen-micro48" not in profile  # today's screen is preferred
    mamba.refresh_from_db()
    assert mamba.confidence == 1 and mamba.fitness is not None
