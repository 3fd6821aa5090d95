"""Back-pressure against the real database: the conductor pauses designing per stage and says why,
a researcher's request runs in a slot of its own whatever the pressure, its state is kept (queued,
designing, made design X, failed why), and the dashboard's fixes apply through the run settings."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evolution.models import Design, DesignRequest, Event, EvolutionRun, Job, Verification
from evolution.selectors import backpressure as bp
from evolution.selectors.dashboard import describe
from evolution.selectors.requests import requests_of
from evolution.selectors.run_report import run_report
from evolution.services import decisions, jobs
from evolution.services.loop import dispatch, run_settings, set_state
from evolution.services.work import run_design_job

pytest_plugins = ["web_fixtures"]  # fixtures: roles, researcher, viewer, seeds, client_for, …


def _backlog(run: EvolutionRun, n: int, parent: Design) -> list[Design]:
    """n checked designs of the run that no verification has touched (copies of `parent`'s row)."""
    made = []
    for i in range(n):
        made.append(Design.objects.create(
            name=f"waiting-{i}", slug=f"waiting-{i}", origin_kind="gp", status="checked", tree=parent.tree,
            tree_hash=f"h{i}", run=run, generation=1))
    return made


@pytest.fixture
def run(seeds) -> EvolutionRun:
    run = EvolutionRun.objects.create(name="pressed", budgets={"micro": 64, "tiny": 16},
                                      settings={"design_workers": 2, "verify_workers": 1, "max_backlog": 20})
    gpt = next(d for d in seeds if d.name == "gpt")
    for seed in seeds:  # the seeds are verified at micro already: nothing new but the backlog
        Verification.objects.create(design=seed, rung="micro", status="done", fitness=0.1, run=None)
    _backlog(run, 26, gpt)
    # Two micro verifications finished in the last hour, 24 minutes each: the measured rate.
    now = timezone.now()
    for i in range(2):
        d = Design.objects.create(name=f"done-{i}", slug=f"done-{i}", origin_kind="gp", status="verified",
                                  tree=gpt.tree, run=run, generation=1)
        Verification.objects.create(design=d, rung="micro", status="done", run=run, fitness=0.2,
                                    started_at=now - timedelta(minutes=30 + 24 * i),
                                    finished_at=now - timedelta(minutes=6 + 24 * i))
    return run


def test_designing_pauses_and_the_assessment_says_why_and_for_how_long(run):
    p = bp.pressure(run)
    assert p.designing_paused and p.stage("verify").backlog == 26 and p.stage("verify").rung == "micro"
    assert p.stage("verify").measured and p.stage("verify").rate_per_hour == pytest.approx(2.0)
    assert "26 checked designs await a first verification at micro" in p.reason
    counts = dispatch(run, random.Random(0))
    assert counts["design"] == 0 and counts["verify"] == 1  # the verifier works on; the designers wait


def test_the_run_report_says_why_too(run):
    report = run_report(run)["backpressure"]
    assert report["designing_paused"] and "26 checked designs" in report["reason"]
    assert report["stages"][0]["backlog"] == 26 and {f["action"] for f in report["fixes"]} >= {"raise_backlog"}


def test_a_vetoed_design_does_not_hold_the_backlog_forever(run):
    ids = list(Design.objects.filter(run=run, status="checked").values_list("id", flat=True)[:7])
    Design.objects.filter(id__in=ids).update(verdict="vetoed")  # selection never verifies these
    assert bp.screen_backlog(run) == 19 and not bp.pressure(run).designing_paused


def test_a_researchers_request_runs_in_its_own_slot_under_back_pressure(run, researcher, seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    Job.objects.create(run=run, kind=Job.Kind.DESIGN, status=Job.Status.RUNNING)  # both loop slots busy
    Job.objects.create(run=run, kind=Job.Kind.DESIGN, status=Job.Status.RUNNING)
    request = decisions.use_as_parent(gpt, researcher, note="try a gate")
    assert requests_of(gpt)[0]["state"] == "queued"
    counts = dispatch(run, random.Random(0))
    assert counts["requests"] == 1 and counts["design"] == 0
    request.refresh_from_db()
    job = Job.objects.get(params__request=request.id)
    assert request.status == DesignRequest.Status.TAKEN and job.kind == Job.Kind.DESIGN and job.status == "queued"
    row = requests_of(gpt)[0]
    assert row["state"] == "queued" and f"job #{job.id}" in row["text"] and "own slot" in row["text"]
    assert dispatch(run, random.Random(0))["requests"] == 0  # taken once
    jobs.claim(job.id)
    assert requests_of(gpt)[0]["state"] == "designing"
    assert Event.objects.filter(kind="request.taken", design=gpt).exists()


def test_a_paused_run_still_takes_a_request_and_a_stopped_one_says_it_waits(run, researcher, seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    set_state(run, "stopped")
    decisions.use_as_parent(gpt, researcher)
    assert dispatch(run)["requests"] == 0
    assert "the run is stopped" in requests_of(gpt)[0]["text"]
    set_state(run, "paused")
    assert dispatch(run) == {"reaped": 0, "design": 0, "verify": 0, "requests": 1, "check": 0}


def test_a_failed_request_says_why(run, researcher, seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    request = decisions.use_as_parent(gpt, researcher)
    dispatch(run)
    job = Job.objects.get(params__request=request.id)
    jobs.claim(job.id)
    jobs.fail(job, "crash", "RuntimeError: the provider went away\nTraceback ...")
    row = requests_of(gpt)[0]
    assert row["state"] == "failed" and row["text"] == "failed: crash: RuntimeError: the provider went away"
    event = Event.objects.get(kind="request.failed", design=gpt)
    assert describe(event) == f"request #{request.id} failed: crash: RuntimeError: the provider went away"


def test_a_parent_vetoed_after_the_request_is_refused_when_the_job_runs(run, researcher, seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    request = decisions.use_as_parent(gpt, researcher)
    dispatch(run)
    decisions.veto(gpt, researcher, "a dead end")
    job = Job.objects.get(params__request=request.id)
    run_design_job(job.id)
    job.refresh_from_db()
    request.refresh_from_db()
    assert job.status == "failed" and job.failure_category == "refused"
    assert request.status == "failed" and "gpt cannot be a parent: it is vetoed (“a dead end”)" in request.error
    assert not Design.objects.filter(parents=gpt, run=run).exists()


def test_with_a_screen_the_screen_and_the_verify_backlogs_are_separate(run, seeds):
    run.budgets = {"screen": 100, "micro": 64}
    run.settings = {**run.settings, "max_screen_backlog": 30, "max_backlog": 3}
    run.save()
    waiting = list(Design.objects.filter(run=run, status="checked").order_by("id"))
    for d in waiting[:3]:  # three screened designs, none verified above the screen
        Verification.objects.create(design=d, rung="screen", status="done", run=run, fitness=0.0)
    assert (bp.screen_backlog(run), bp.screened_backlog(run)) == (23, 3)
    p = bp.pressure(run)
    assert p.screening_paused and not p.designing_paused
    assert [s.stage for s in p.stages] == ["screen", "verify"]
    counts = dispatch(run, random.Random(0))
    assert counts["design"] == 2  # designers go on: the screen has room
    queued = Verification.objects.get(status="queued")
    assert queued.rung == "micro" and queued.design in waiting[:3]  # no new screen: a screened design climbs


def test_the_dashboard_explains_and_a_fix_applies(run, client_for, researcher, viewer):
    page = client_for(viewer).get(reverse("evolution:dashboard")).content.decode()
    assert "Why designing is paused" in page and "26 checked designs await a first verification at micro" in page
    assert 'id="run-pressure"' in page and "paused: back-pressure" in page
    assert "Raise the verify backlog limit to 46" in page and 'name="action"' not in page  # viewers read only
    client = client_for(researcher)
    refused = client.post(reverse("evolution:pressure-fix"), {"action": "make_it_fast"}, HTTP_HX_REQUEST="true")
    assert "no fix named make_it_fast is offered now" in refused.content.decode()
    answer = client.post(reverse("evolution:pressure-fix"), {"action": "raise_backlog"}, HTTP_HX_REQUEST="true")
    run.refresh_from_db()
    assert run_settings(run).max_backlog == 46 and "applied" in answer.content.decode()
    assert "Designing is not held back" in answer.content.decode()
    assert Event.objects.filter(kind="run.settings_changed", payload__changes__max_backlog=46).exists()
    again = client.post(reverse("evolution:pressure-fix"), {"action": "raise_backlog"}, HTTP_HX_REQUEST="true")
    assert "nothing to fix" in again.content.decode()


def test_the_run_page_explains_it_too(run, client_for, viewer):
    page = client_for(viewer).get(reverse("evolution:run", args=[run.pk])).content.decode()
    assert "Why designing is paused" in page and "26 checked designs await a first verification at micro" in page
    EvolutionRun.objects.filter(pk=run.pk).update(is_active=False)  # the conductor runs active runs only
    assert "Why designing is paused" not in client_for(viewer).get(reverse("evolution:run", args=[run.pk])).content.decode()


def test_screen_first_and_add_worker_fixes_change_the_run(run, client_for, researcher):
    client = client_for(researcher)
    client.post(reverse("evolution:pressure-fix"), {"action": "add_verify_worker"})
    run.refresh_from_db()
    assert run_settings(run).verify_workers == 2
    client.post(reverse("evolution:pressure-fix"), {"action": "screen_first"})
    run.refresh_from_db()
    assert run.budgets["screen"] == 16384 and run.budgets["micro"] == 64
    assert bp.has_screen(run) and [s.stage for s in bp.pressure(run).stages] == ["screen", "verify"]


def test_a_viewer_cannot_apply_a_fix(run, client_for, viewer):
    response = client_for(viewer).post(reverse("evolution:pressure-fix"), {"action": "raise_backlog"})
    assert response.status_code == 403
    run.refresh_from_db()
    assert run_settings(run).max_backlog == 20
