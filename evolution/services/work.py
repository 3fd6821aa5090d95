"""The work behind each Celery task: claim the job, do it, write the results through services.

Nothing here runs generated code in this process: designers only edit trees (the checker runs the
code in its sandbox), and a verification runs `python -m verifier.core verify` as a child process.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from evolution.core.cpu_time import checks_cpu, cpu_meter, verification_cpu
from evolution.core.progress import THROTTLED, progress_payload
from evolution.core.selection import select_parents
from evolution.core.verify_runner import run_verification
from evolution.models import Design, DesignRequest, EvolutionRun, Job, Verification
from evolution.selectors import loop as q
from evolution.services import intake, jobs
from evolution.services.checks import apply_check, run_checker
from evolution.services.designs import create_design_from_result
from evolution.services.eligibility import PARENT, require_usable
from evolution.services.events import record_event
from evolution.services.loop import run_settings
from evolution.services.requests import finish_request
from evolution.services.verifications import record_report, start_verification
from verifier.core.gau.tree import GAUTree
from verifier.core.train.ladder import DEFAULT_SEED

if TYPE_CHECKING:
    from designer.core.config import DesignerConfig
from verifier.core.sandbox.files import write_text

PROGRESS_EVERY_S = 2.0
STOP_POLL_S = 5.0
POOL_SIZE = 40


class TransientError(RuntimeError):
    """A fault worth retrying (database locked or unreachable); Celery retries with backoff."""


HEARTBEAT_S = 5.0


class _Heartbeat:
    """Beats for a job from a side thread while its body runs, however long a step blocks."""

    def __init__(self, job: Job):
        self.job = job
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{job.id}", daemon=True)

    def _beat(self) -> None:
        try:
            while not self.stop.wait(HEARTBEAT_S):
                jobs.heartbeat(self.job)
        finally:
            connection.close()  # this thread's own database connection

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def _guard(job: Job, body) -> None:
    try:
        with _Heartbeat(job):
            body()
    except OperationalError as exc:
        jobs.requeue(job, f"database error, retrying: {exc}")
        raise TransientError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - the job records what went wrong; the worker lives on
        jobs.fail(job, "crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-3000:]}")


# ---- design ---------------------------------------------------------------------------------------

def run_design_job(job_id: int) -> None:
    job = jobs.claim(job_id)
    if job is not None:
        _guard(job, lambda: _design(job))


def _choose(job: Job, run: EvolutionRun, rng: random.Random) -> tuple[str, list[Design], str]:
    request_id = job.params.get("request")
    if request_id:
        request = DesignRequest.objects.get(id=request_id)
        parents = list(request.parents.order_by("id"))
        for parent in parents:  # a parent vetoed since the request was made is refused now
            require_usable(parent, PARENT)
        return request.mode, parents, f"requested by {request.requested_by or 'a researcher'}"
    choice = select_parents(q.design_states(run), q.run_rung_names(run), run_settings(run).selection(), rng)
    by_id = Design.objects.in_bulk(choice.parents)
    return choice.mode, [by_id[i] for i in choice.parents], choice.reason


def designer_config_for(run: EvolutionRun) -> DesignerConfig:
    """The designer settings saved on the designer page (models, providers, limits, ablation), as
    `manage.py design` uses them; the run's `designer` setting may force the GP designer, and its
    `literature` switch (an ablation) keeps the knowledge engine from the proposer."""
    from designer.services import designer_config

    config = designer_config()
    settings = run_settings(run)
    if settings.designer == "gp":
        config.use_gp = True
    config.literature = settings.literature
    return config


def design_rng(job: Job, run: EvolutionRun) -> random.Random:
    """The design job's random source: fresh, or with the run's `random_seed` the same for the n-th
    design job of every run that shares the seed (n counts this run's earlier design jobs)."""
    seed = run_settings(run).random_seed
    if seed is None:
        return random.Random()
    ordinal = Job.objects.filter(run=run, kind=job.kind, id__lt=job.id).count()
    return random.Random(f"{seed}:{ordinal}")


def _design(job: Job) -> None:
    from designer.core.pipeline import design

    run = job.run
    rng = design_rng(job, run)
    try:
        mode, parents, reason = _choose(job, run, rng)
    except ValidationError as exc:  # the request's parent can no longer be one: say so, no traceback
        jobs.fail(job, "refused", "; ".join(exc.messages))
        return
    trees = [GAUTree.from_dict(p.tree) for p in parents]
    pool_rows = Design.objects.real().filter(status__in=q.IMPLEMENTED).exclude(tree=None).order_by("-id")[:POOL_SIZE]
    pool = [GAUTree.from_dict(d.tree) for d in pool_rows]
    config = designer_config_for(run)
    jobs.heartbeat(job, {"mode": mode, "parents": [p.name for p in parents], "reason": reason})
    with cpu_meter() as spent:
        result = design(trees, mode, config, pool=pool, rng=rng, on_event=lambda kind, data: jobs.heartbeat(job))
    with transaction.atomic():
        created = create_design_from_result(result, parents)
        checks = [result.check_report, *(entry.get("check") for entry in result.trace if isinstance(entry, dict))]
        Design.objects.filter(id=created.id).update(run=run, cpu_seconds=spent["cpu_seconds"] + checks_cpu(checks))
        if job.params.get("request"):
            finish_request(int(job.params["request"]), created)
        jobs.finish(job, design=created, summary={"mode": mode, "status": created.status, "reason": reason})


# ---- check ----------------------------------------------------------------------------------------

def run_check_job(job_id: int) -> None:
    job = jobs.claim(job_id)
    if job is not None:
        _guard(job, lambda: _check(job))


def _check(job: Job) -> None:
    if job.params.get("upload"):
        _check_upload(job, int(job.params["upload"]))
        return
    design = job.design
    report = run_checker(GAUTree.from_dict(design.tree))
    with transaction.atomic():
        passed = apply_check(design, report)
        jobs.finish(job, summary={"passed": passed})


def _check_upload(job: Job, upload_id: int) -> None:
    try:
        upload = intake.check_upload(upload_id)
    except OperationalError:
        raise  # the guard re-queues the job; the upload stays CHECKING
    except Exception as exc:
        intake.fail_check(upload_id, f"{type(exc).__name__}: {exc}")
        raise
    jobs.finish(job, design=upload.design if upload.status == "accepted" else None,
                summary={"upload": upload_id, "status": upload.status})


# ---- verify ---------------------------------------------------------------------------------------

def run_verify_job(job_id: int) -> None:
    job = jobs.claim(job_id)
    if job is not None:
        _guard(job, lambda: _verify(job))


def run_dir(design: Design, rung: str, seed: int = DEFAULT_SEED) -> Path:
    """Where a verification writes (and resumes from its checkpoint): one folder per rung and seed."""
    name = rung if seed == DEFAULT_SEED else f"{rung}-seed{seed}"
    return Path(django_settings.VAR_DIR) / "runs" / f"{design.id}-{design.slug}" / name


def _verify(job: Job) -> None:
    verification = job.verification
    if verification is None:
        jobs.fail(job, "crash", "verify job without a verification")
        return
    verification.refresh_from_db()
    if verification.status == Verification.Status.DONE:
        jobs.finish(job, summary={"already": "done"})
        return
    design, run = verification.design, job.run
    start_verification(verification)
    out = run_dir(design, verification.rung, verification.seed)
    out.mkdir(parents=True, exist_ok=True)
    design_json = out.parent / f"{verification.rung}.design.json"  # outside the folder the design can write
    write_text(design_json, GAUTree.from_dict(design.tree).to_json())  # the run folder is the sandbox's
    data_dir = Path(django_settings.GENESYS_DATA_DIR) if django_settings.GENESYS_DATA_DIR else None
    follower = _Follower(job, verification)
    with cpu_meter() as spent:
        outcome = run_verification(
            design_json, verification.rung, out, data_dir=data_dir,
            timeout_s=run_settings(run).timeout_for(verification.rung), extra_args=["--seed", str(verification.seed)],
            on_progress=follower.on_progress, should_stop=follower.should_stop,
        )
    # Kept on the object too: record_report saves the whole row. A resumed verification adds up.
    spent_cpu = verification_cpu(spent["cpu_seconds"], outcome.report, outcome.wall_s)
    verification.cpu_seconds = (verification.cpu_seconds or 0.0) + spent_cpu
    Verification.objects.filter(id=verification.id).update(cpu_seconds=verification.cpu_seconds)
    if outcome.status == "interrupted":
        with transaction.atomic():
            Verification.objects.filter(id=verification.id).update(status=Verification.Status.QUEUED)
            Job.objects.filter(id=job.id).update(status=Job.Status.CANCELLED)
            record_event("verification.paused", {"verification": verification.id, "rung": verification.rung,
                                                 "reason": "the run was stopped; it resumes from its checkpoint"},
                         design=design)
        return
    report: dict[str, Any] = dict(outcome.report or {})
    if outcome.status == "done":
        with transaction.atomic():
            record_report(verification, report)
            jobs.finish(job, summary={"rung": verification.rung, "fitness": verification.fitness})
        return
    failure = outcome.failure or {"category": "crash", "message": "verification failed"}
    report.setdefault("failure", failure)
    report["status"] = "failed"
    report.setdefault("error", failure["message"])
    with transaction.atomic():
        record_report(verification, report, failed=True)
        jobs.fail(job, failure["category"], failure["message"])


class _Follower:
    """Turns the child's progress lines into throttled events and heartbeats; watches for a stop."""

    def __init__(self, job: Job, verification: Verification):
        self.job, self.verification = job, verification
        self.last_event = 0.0
        self.last_poll = time.monotonic()
        self.phase, self.phase_since = "", ""

    def on_progress(self, event: dict[str, Any]) -> None:
        payload = progress_payload(event)
        if not payload:
            return
        kind = payload.get("kind")
        now = time.monotonic()
        if kind in THROTTLED and now - self.last_event < PROGRESS_EVERY_S:
            return
        self.last_event = now
        if payload.get("phase") and payload["phase"] != self.phase:
            self.phase, self.phase_since = payload["phase"], timezone.now().isoformat()
        if self.phase:  # every event says which stage the run is in, and since when
            payload.setdefault("phase", self.phase)
            payload["phase_since"] = self.phase_since
        payload.update(verification=self.verification.id, rung=self.verification.rung,
                       started_at=self.verification.started_at.isoformat() if self.verification.started_at else None)
        jobs.heartbeat(self.job, payload)
        record_event("verification.progress", payload, design=self.verification.design)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.last_poll < STOP_POLL_S:
            return False
        self.last_poll = now
        state = EvolutionRun.objects.filter(id=self.job.run_id).values_list("state", flat=True).first()
        return state == "stopped"
