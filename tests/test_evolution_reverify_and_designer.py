"""Against the real database: a close call's re-verification is a second row at the same rung with
its own seed, and the loop's design jobs run with the settings saved on the designer page."""

from __future__ import annotations

from pathlib import Path

import pytest
from checked_seeds import checked_seeds
from django.db import IntegrityError, transaction
from replay_designer import KEY_ENV, point_designer_at

from designer.core.replay_server import ReplayServer
from designer.services import active_settings
from evolution.core.selection import VerifyChoice
from evolution.models import Design, DesignRequest, Event, EvolutionRun, Job, Verification
from evolution.selectors.loop import design_states
from evolution.services.loop import queue_verification
from evolution.services.work import designer_config_for, run_design_job, run_dir

REPLIES = Path(__file__).parent / "data" / "llm_replies"


@pytest.fixture
def run(db) -> EvolutionRun:
    checked_seeds(["gpt", "mamba2"])
    return EvolutionRun.objects.create(name="test-run", budgets={"micro": 40, "tiny": 10})


@pytest.mark.django_db
def test_a_close_call_is_queued_as_a_second_verification_at_the_same_rung_with_its_seed(run):
    gpt = Design.objects.get(name="gpt")
    first = Verification.objects.create(design=gpt, rung="micro", run=run, status="done", fitness=0.1)
    assert first.seed == 42
    again = queue_verification(run, VerifyChoice(gpt.id, "micro", "close call", seed=43))
    assert again is not None and again.id != first.id and (again.rung, again.seed, again.status) == ("micro", 43, "queued")
    assert Job.objects.get(verification=again).kind == Job.Kind.VERIFY
    assert Event.objects.filter(kind="verification.queued").last().payload["seed"] == 43
    assert queue_verification(run, VerifyChoice(gpt.id, "micro", "twice", seed=43)) is None  # one row per seed
    with pytest.raises(IntegrityError), transaction.atomic():
        Verification.objects.create(design=gpt, rung="micro", seed=43)
    state = next(s for s in design_states(run) if s.id == gpt.id)
    assert (state.verified_rungs, state.busy_rungs, state.seeds) == (("micro",), ("micro",), {"micro": (42, 43)})
    assert run_dir(gpt, "micro", 43).name == "micro-seed43" and run_dir(gpt, "micro").name == "micro"


@pytest.mark.django_db
def test_the_runs_designer_setting_can_still_force_the_gp_designer(run):
    settings = active_settings()
    settings.coder_model, settings.ablation, settings.max_debug_attempts = "my-coder", "no_checker", 2
    settings.save()
    config = designer_config_for(run)
    assert config.roles["coder"].model == "my-coder" and config.ablation.name == "no_checker"
    assert config.limits.max_debug_attempts == 2 and not config.use_gp
    run.settings = {"designer": "gp"}
    assert designer_config_for(run).use_gp


@pytest.mark.django_db(transaction=True)
def test_the_loops_design_job_runs_with_the_saved_designer_settings(run, monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "replay-key-not-real")
    monkeypatch.setenv("GENESYS_KNOWLEDGE_DIR", str(tmp_path / "no-library"))
    gpt = Design.objects.get(name="gpt")
    with ReplayServer.from_folder(REPLIES / "budget_stop") as server:
        point_designer_at(server)
        request = DesignRequest.objects.create(run=run, mode="mutation")
        request.parents.set([gpt])
        job = Job.objects.create(run=run, kind=Job.Kind.DESIGN, params={"request": request.id})
        run_design_job(job.id)
    assert server.errors == [] and [r.served for r in server.requests] == ["01_proposer.json"]
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.error
    design = job.design
    assert design.origin["kind"] == "llm" and design.origin["ablation"] == "no_observer"
    assert set(design.origin["models"].values()) == {"claude-opus-4-1"}
    assert design.status == Design.Status.INVALID and design.cost_dollars == pytest.approx(1.455)  # the saved $1 limit
    # The cost ledger's inputs: tokens per role as the provider counted them, the job's CPU time.
    (proposer_in, proposer_out) = design.designer_metrics["tokens_by_role"]["proposer"]
    assert (proposer_in, proposer_out) == (design.tokens_in, design.tokens_out) and design.cpu_seconds > 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_reverification_trains_with_its_seed_in_its_own_folder(run, genesys_data_dir, settings, tmp_path):
    from evolution.services.work import run_verify_job

    settings.VAR_DIR, settings.GENESYS_DATA_DIR = tmp_path, str(genesys_data_dir)
    run.budgets = {"test": 4}
    run.save()
    gpt = Design.objects.get(name="gpt")
    verification = Verification.objects.create(design=gpt, rung="test", seed=7, run=run)
    run_verify_job(Job.objects.create(run=run, kind=Job.Kind.VERIFY, design=gpt, verification=verification).id)
    verification.refresh_from_db()
    assert verification.status == "done", verification.error
    assert verification.report["seed"] == 7 and (run_dir(gpt, "test", 7) / "report.json").exists()
    # the sandboxed run's own CPU time counts (behind bubblewrap it never reaches the worker's
    # rusage: before, a screen that trained for a minute was charged ~1.7 s, the verify parent's)
    assert verification.report["cpu_seconds"] > 0
    assert verification.cpu_seconds >= verification.report["cpu_seconds"]
