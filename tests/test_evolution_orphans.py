"""No orphans: a verify job that dies takes its verification down with it (failed, with the reason,
budget released), the runner never leaves a child training behind, and services do not reach up
into the Celery layer."""

from __future__ import annotations

import ast
import os
from datetime import timedelta
from pathlib import Path

import pytest
from checked_seeds import checked_seeds
from django.utils import timezone

from evolution.core.verify_runner import run_verification
from evolution.models import Design, EvolutionRun, Job, Verification
from evolution.services import jobs, work
from evolution.services.verifications import budget_left
from verifier.core.pyparse import parse_module
from verifier.core.seeds import load_seed

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(db) -> EvolutionRun:
    checked_seeds()
    return EvolutionRun.objects.create(name="orphans", budgets={"micro": 1}, settings={"verify_workers": 1})


def verify_job(run: EvolutionRun, status: str = "running") -> tuple[Job, Verification]:
    design = Design.objects.filter(is_seed=True).order_by("id").first()
    verification = Verification.objects.create(design=design, rung="micro", rung_index=0, run=run, status=status)
    Design.objects.filter(id=design.id).update(status=Design.Status.VERIFYING)
    return Job.objects.create(run=run, kind="verify", design=design, verification=verification), verification


def test_when_the_reaper_gives_up_the_verification_fails_and_its_budget_returns(run):
    job, verification = verify_job(run)
    assert budget_left(run, "micro") == 0
    jobs.claim(job.id)
    Job.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(seconds=600), attempts=3)
    jobs.reap_stale(run, 30, 3)
    verification.refresh_from_db()
    assert verification.status == "failed"
    assert verification.error.startswith("killed: worker") and "gave up after 3 attempts" in \
        verification.report["failure"]["message"]
    assert budget_left(run, "micro") == 1
    assert verification.design.status != Design.Status.VERIFYING


def test_a_crash_in_the_job_guard_fails_the_verification_with_the_reason(run, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    job, verification = verify_job(run, status="queued")
    Design.objects.filter(id=verification.design_id).update(tree={"not": "a tree"})
    work.run_verify_job(job.id)
    job.refresh_from_db()
    verification.refresh_from_db()
    assert job.status == "failed" and job.failure_category == "crash"
    assert verification.status == "failed" and verification.error.startswith("crash: ")
    assert budget_left(run, "micro") == 1


def test_a_verification_that_already_ended_is_left_alone(run):
    job, verification = verify_job(run, status="done")
    jobs.fail(job, "crash", "late failure")
    verification.refresh_from_db()
    assert verification.status == "done" and verification.error == ""


def test_services_do_not_import_the_celery_layer():
    offenders = []
    for path in sorted((REPO / "evolution" / "services").glob("*.py")):
        for node in ast.walk(parse_module(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n in ("evolution.tasks", "celery")
                          or n.startswith(("celery.", "evolution.tasks."))]
    assert offenders == []


def test_the_runner_kills_its_child_when_following_it_fails(tmp_path, genesys_data_dir):
    design = tmp_path / "gpt.json"
    design.write_text(load_seed("gpt").to_json())
    out = tmp_path / "run"

    def explode(event):
        raise RuntimeError("the worker's database went away")

    with pytest.raises(RuntimeError):
        run_verification(design, "test", out, data_dir=genesys_data_dir, timeout_s=300, on_progress=explode,
                         poll_s=0.1)
    left = []
    for entry in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if str(out).encode() in cmdline:
            left.append(entry)
    assert left == []


def test_the_runner_refuses_a_report_of_another_design(tmp_path):
    from evolution.core.verify_runner import report_problem

    gpt = load_seed("gpt")
    report = {"design_name": "gpt", "design_hash": "forged", "rung": "micro", "status": "done", "fitness": 1.0}
    assert "names design" in report_problem(report, gpt.content_hash(), "micro")
    assert "names rung" in report_problem({**report, "design_hash": gpt.content_hash()}, gpt.content_hash(), "tiny")
    assert report_problem({**report, "design_hash": gpt.content_hash()}, gpt.content_hash(), "micro") is None
    assert "does not parse" in report_problem({"fitness": 1.0}, gpt.content_hash(), "micro")
