"""Functional clones are kept out of the population (evolution/services/clones.py), with the real checker
in its sandbox: the GP designer's `gpt~MultiScaleRetention~RetNetMLP` (RetNet under GPT's names) is
caught as a clone of the retnet seed, wherever it becomes checked (a designer's result, a check job, an
upload), counts as a `duplicate` check failure of its run and says so on its page; a genuinely different
design, a failed check or a twin that left the population block nothing."""

from __future__ import annotations

from typing import Any

import pytest
from checked_seeds import checked_seeds
from clone_designs import gelu_gpt, leaky_gpt, retnet_in_gpt

from designer.core.result import DesignerResult
from evolution.models import CheckRun, Design, EvolutionRun, Job, Upload
from evolution.selectors.loop import design_states
from evolution.selectors.run_metrics import error_rates, stage_outcomes
from evolution.selectors.run_report import run_report
from evolution.services import intake, work
from evolution.services.checks import apply_check, run_checker
from evolution.services.clones import report_fingerprint
from evolution.services.designs import create_design, create_design_from_result
from verifier.core.gau.tree import GAUTree

pytest_plugins = ["web_fixtures"]
pytestmark = pytest.mark.django_db

_REPORTS: dict[str, dict[str, Any]] = {}


def report_of(tree: GAUTree) -> dict[str, Any]:
    """The real checker's report (once per tree and session: the checker is deterministic and slow)."""
    key = tree.content_hash()
    if key not in _REPORTS:
        _REPORTS[key] = run_checker(tree)
    return _REPORTS[key]


def gp_result(tree: GAUTree, parents: list[str]) -> DesignerResult:
    """What the GP designer hands back for `tree`: its operator's tree and the checker's report."""
    return DesignerResult(mode="mutation", parents=parents, origin={"kind": "gp", "operator": "mutation"},
                          status="implemented", tree=tree, name=tree.name, check_report=report_of(tree))


def designed(tree: GAUTree, parents: list[Design], run: EvolutionRun | None = None) -> Design:
    """Store a designer's result as the design job does (`work._design`)."""
    design = create_design_from_result(gp_result(tree, [p.name for p in parents]), parents)
    if run is not None:
        Design.objects.filter(id=design.id).update(run=run)
    design.refresh_from_db()
    return design


def test_the_gp_designers_retnet_is_a_clone_of_the_retnet_seed(client_for, researcher):
    gpt, retnet = checked_seeds(["gpt", "retnet"])
    assert (gpt.status, retnet.status) == ("checked", "checked")
    assert retnet.fingerprint and gpt.fingerprint and gpt.fingerprint != retnet.fingerprint
    run = EvolutionRun.objects.create(name="clones", budgets={"micro": 4})
    clone = designed(retnet_in_gpt(), [gpt, retnet], run)
    assert clone.name == "gpt~MultiScaleRetention~RetNetMLP" and clone.tree_hash != retnet.tree_hash
    assert (clone.status, clone.clone_of, clone.is_seed) == ("invalid", retnet, False)
    assert clone.failure == (f"behaves exactly like design #{retnet.id} retnet: same outputs at the same "
                             "initialisation (a functional clone, so it is not verified)")
    check = CheckRun.objects.get(design=clone)
    assert not check.passed and check.report["category"] == "duplicate"
    assert check.report["findings"][0]["category"] == "duplicate" and check.report["clone_of"]["id"] == retnet.id
    # It never enters the population, so it is never selected for verification.
    assert clone.id not in {s.id for s in design_states(run)} and retnet.id in {s.id for s in design_states(run)}
    # It counts as a failed check of its run, under its own category.
    check_stage = error_rates(run, stage_outcomes(run))["stages"]["check"]
    assert (check_stage["attempts"], check_stage["errors"], check_stage["categories"]) == (1, 1, {"duplicate": 1})
    assert run_report(run)["failures"] == {"check:duplicate": 1}
    # Its page links to its twin; the twin's page lists it.
    client = client_for(researcher)
    page = client.get(clone.get_absolute_url()).content.decode()
    assert 'id="clone-of"' in page and "Functional clone of" in page
    assert f'<a href="{retnet.get_absolute_url()}">#{retnet.id} retnet</a>' in page
    assert clone.get_absolute_url() in client.get(retnet.get_absolute_url()).content.decode()
    # The API says the same, read-only.
    detail = client.get(f"/api/designs/{clone.slug}/").json()
    assert (detail["clone_of"], detail["fingerprint"]) == (retnet.id, retnet.fingerprint)
    assert client.get(f"/api/designs/{retnet.slug}/").json()["fingerprint"] == retnet.fingerprint


def test_a_genuinely_different_design_enters_and_then_wins_against_its_own_clone():
    gpt, retnet = checked_seeds(["gpt", "retnet"])
    first = designed(gelu_gpt(), [gpt])
    assert (first.status, first.clone_of, first.failure) == ("checked", None, "")
    assert first.fingerprint not in ("", gpt.fingerprint, retnet.fingerprint)
    # The same behaviour again, in other code (another tree hash): the design that was there first wins.
    again = gelu_gpt("gpt-gelu-again")
    again.units["GatedMLP"].code += "\n# the same function, written again\n"
    second = designed(again, [gpt])
    assert second.tree_hash != first.tree_hash
    assert (second.status, second.clone_of) == ("invalid", first)
    # Checking the first design again does not make it a clone of itself (nor of its invalid clone).
    assert apply_check(first, report_of(gelu_gpt()))
    first.refresh_from_db()
    assert (first.status, first.clone_of) == ("checked", None)


def test_a_check_job_applies_the_rule_to_a_design_stored_unchecked():
    gpt, retnet = checked_seeds(["gpt", "retnet"])
    clone = create_design(tree=retnet_in_gpt(), name="stored-unchecked", origin_kind=Design.OriginKind.GP,
                          parents=[gpt, retnet], status=Design.Status.UNCHECKED)
    run = EvolutionRun.objects.create(name="check-job")
    job = Job.objects.create(run=run, kind=Job.Kind.CHECK, design=clone)
    work.run_check_job(job.id)  # the real checker, as a worker runs it
    clone.refresh_from_db()
    assert (clone.status, clone.clone_of, clone.fingerprint) == ("invalid", retnet, retnet.fingerprint)
    assert Job.objects.get(id=job.id).status == "done"


def test_a_failed_check_has_no_fingerprint_and_blocks_nothing():
    gpt, _ = checked_seeds(["gpt", "retnet"])
    report = report_of(leaky_gpt())
    assert report["passed"] is False and report_fingerprint(report) == ""
    first = designed(leaky_gpt(), [gpt])
    second = create_design_from_result(gp_result(leaky_gpt(), ["gpt"]), [gpt])
    for design in (first, second):
        design.refresh_from_db()
        assert (design.status, design.fingerprint, design.clone_of) == ("invalid", "", None)
        assert CheckRun.objects.get(design=design).report["category"] == "non-causal"  # not "duplicate"


def test_a_twin_that_left_the_population_blocks_nothing():
    gpt, retnet = checked_seeds(["gpt", "retnet"])
    Design.objects.filter(id=retnet.id).update(status=Design.Status.FAILED)  # its verification failed
    clone = designed(retnet_in_gpt(), [gpt, retnet])
    assert (clone.status, clone.clone_of, clone.fingerprint) == ("checked", None, retnet.fingerprint)


def test_a_report_without_a_fingerprint_matches_nothing():
    gpt, retnet = checked_seeds(["gpt", "retnet"])
    old = {k: v for k, v in report_of(retnet_in_gpt()).items() if k != "fingerprint"}  # stored before fingerprints
    design = create_design(tree=retnet_in_gpt(), name="old-report", origin_kind=Design.OriginKind.GP,
                           parents=[gpt, retnet], check_report=old)
    assert (design.status, design.fingerprint, design.clone_of) == ("checked", "", None)


def test_an_uploaded_clone_is_told_which_design_it_matches(researcher):
    _, retnet = checked_seeds(["gpt", "retnet"])
    before = Design.objects.count()
    upload = intake.submit_design(researcher, text=retnet_in_gpt().to_json(), name="my-retention-gpt")
    assert upload.status == "checking"
    for job in Job.objects.filter(kind=Job.Kind.CHECK, status=Job.Status.QUEUED):
        work.run_check_job(job.id)  # what a worker on the `check` queue does
    upload = Upload.objects.get(id=upload.id)
    assert (upload.status, upload.design) == ("duplicate", retnet)
    assert upload.error.startswith(f"behaves exactly like design #{retnet.id} retnet")
    assert Design.objects.count() == before  # it never became a node of the tree


def test_seeds_that_behave_alike_keep_only_the_first(researcher):
    # A seed is a design too: an uploaded GELU GPT is in the population, and a later one like it is not.
    upload = intake.submit_design(researcher, text=gelu_gpt("gelu-upload").to_json())
    for job in Job.objects.filter(kind=Job.Kind.CHECK, status=Job.Status.QUEUED):
        work.run_check_job(job.id)
    accepted = Upload.objects.get(id=upload.id)
    assert accepted.status == "accepted" and accepted.design.fingerprint
    again = gelu_gpt("gelu-as-designed")
    again.units["MHA"].code += "\n# other code, same function\n"
    later = designed(again, [accepted.design])
    assert (later.status, later.clone_of) == ("invalid", accepted.design)
