"""The conductor's dispatch step, job life-cycle and run settings, against the real database."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from checked_seeds import checked_seeds
from django.utils import timezone

from evolution.core.loop_settings import SettingsError
from evolution.models import Design, Event, EvolutionRun, Job, Verification
from evolution.services import jobs
from evolution.services.loop import dispatch, run_settings, set_state, update_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def run() -> EvolutionRun:
    checked_seeds()
    return EvolutionRun.objects.create(name="test-run", budgets={"micro": 8, "tiny": 2},
                                       settings={"design_workers": 2, "verify_workers": 1})


def test_dispatch_tops_up_design_and_verify_jobs(run):
    counts = dispatch(run, random.Random(0))
    assert counts == {"reaped": 0, "design": 2, "verify": 1, "requests": 0, "check": 0}
    verify = Job.objects.get(run=run, kind="verify")
    assert verify.verification.rung == "micro" and verify.verification.status == "queued"
    assert verify.design.is_seed  # new designs (here the seeds) are verified first at the lowest rung
    # A second step finds the queues full and queues nothing more.
    assert dispatch(run, random.Random(0)) == {"reaped": 0, "design": 0, "verify": 0, "requests": 0, "check": 0}
    assert Event.objects.filter(kind="job.queued").count() == 3


def test_a_researchers_promotion_is_verified_before_selection_picks(run):
    design = Design.objects.get(name="ttt")
    promoted = Verification.objects.create(design=design, rung="tiny", rung_index=1, run=run)
    dispatch(run, random.Random(0))
    assert Job.objects.get(run=run, kind="verify").verification == promoted


def test_a_paused_run_queues_nothing(run):
    set_state(run, "paused")
    assert dispatch(run) == {"reaped": 0, "design": 0, "verify": 0, "requests": 0, "check": 0}
    assert Event.objects.filter(kind="run.state_changed", payload__to="paused").exists()


def test_max_designs_caps_the_run(run):
    update_settings(run, {"max_designs": 1})
    assert dispatch(run)["design"] == 1


def test_designers_wait_while_the_verification_backlog_is_full(run):
    update_settings(run, {"max_backlog": 2})
    for name in ("gpt", "ttt"):
        Design.objects.filter(name=name).update(run=run)  # two checked designs of this run, unverified
    assert dispatch(run)["design"] == 0
    update_settings(run, {"max_backlog": 0})
    assert dispatch(run)["design"] == 2


def test_a_job_is_claimed_once():
    job = Job.objects.create(kind="design")
    assert jobs.claim(job.id) is not None
    assert jobs.claim(job.id) is None  # a second delivery of the same message does nothing
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1 and job.worker


def test_a_job_whose_worker_died_is_requeued_then_failed(run):
    update_settings(run, {"max_attempts": 2, "stale_after_s": 30})
    job = Job.objects.create(run=run, kind="verify")
    for attempt in (1, 2):
        jobs.claim(job.id)
        Job.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(seconds=60))
        jobs.reap_stale(run, 30, 2)
        job.refresh_from_db()
        assert job.attempts == attempt
    assert job.status == "failed" and job.failure_category == "killed"
    assert "stopped answering" in job.error
    assert Event.objects.filter(kind="job.requeued").count() == 1


def test_a_live_job_is_not_reaped(run):
    job = Job.objects.create(run=run, kind="verify")
    jobs.claim(job.id)
    assert jobs.reap_stale(run, 30, 3) == []


def test_settings_changes_are_validated_and_recorded(run):
    new = update_settings(run, {"design_workers": 4, "mix": {"mutation": 1.0}, "budgets": {"micro": 3}})
    run.refresh_from_db()
    assert new.design_workers == 4 and run_settings(run).design_workers == 4 and run.budgets == {"micro": 3}
    event = Event.objects.filter(kind="run.settings_changed").last()
    assert event.payload["changes"]["design_workers"] == 4
    for bad in ({"design_workers": -1}, {"explore_prob": 2}, {"colour": "red"}, {"mix": {"mutation": 0}},
                {"budgets": {"1B": 2}}):
        with pytest.raises(SettingsError):
            update_settings(run, bad)
    run.refresh_from_db()
    assert run_settings(run).design_workers == 4  # a refused change leaves the settings as they were


def test_a_queued_job_whose_message_may_be_lost_is_sent_again(run):
    """A broker that restarted empty, or a conductor killed between commit and send: the job is
    sent again after `after_s`, once per `after_s`; running and fresh jobs are left alone."""
    old = timezone.now() - timedelta(seconds=60)
    lost = Job.objects.create(run=run, kind="design")
    fresh = Job.objects.create(run=run, kind="design")
    running = Job.objects.create(run=run, kind="verify")
    jobs.claim(running.id)
    Job.objects.filter(id__in=[lost.id, running.id]).update(created_at=old, heartbeat_at=old)
    Job.objects.filter(id=lost.id).update(heartbeat_at=None)
    assert [j.id for j in jobs.resend_lost(run, 30)] == [lost.id]
    lost.refresh_from_db()
    assert lost.status == "queued" and lost.heartbeat_at > old  # when it was last sent
    assert jobs.resend_lost(run, 30) == []  # not again until another 30 s have passed
    Job.objects.filter(id=lost.id).update(heartbeat_at=old)
    assert [j.id for j in jobs.resend_lost(run, 30)] == [lost.id]
    assert Job.objects.get(id=fresh.id).heartbeat_at is None
