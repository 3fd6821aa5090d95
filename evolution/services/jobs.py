"""The life of a job: queued -> running (claimed by one worker, heartbeating) -> done | failed.

A claim is a conditional UPDATE, so a job delivered twice (acks_late after a worker died, or a
re-queue racing a slow worker) runs once. Enqueueing happens after the commit that created or
re-queued the job, so a worker never looks for a row it cannot see yet.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from evolution.models import Job
from evolution.services.events import record_event
from evolution.services.requests import fail_request
from evolution.services.verifications import fail_verification

log = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


Sender = Callable[[Job], None]
_sender: Sender | None = None


def set_sender(sender: Sender | None) -> None:
    """Register how a job reaches its worker (the Celery layer does this at app start: services do
    not import tasks)."""
    global _sender
    _sender = sender


def enqueue(job: Job) -> None:
    """Send the job to its queue once the surrounding transaction commits."""
    if _sender is None:
        raise RuntimeError("no job sender is registered (evolution.apps registers Celery's at start)")
    send = _sender
    # robust: a broker that is down must not undo or crash the caller; the job stays QUEUED and
    # `resend_lost` sends it again once the broker is back.
    transaction.on_commit(lambda: send(job), robust=True)


def create_job(run, kind: str, *, params: dict[str, Any] | None = None, design=None, verification=None) -> Job:
    with transaction.atomic():
        job = Job.objects.create(run=run, kind=kind, params=params or {}, design=design, verification=verification)
        record_event("job.queued", {"job": job.id, "kind": kind, "params": job.params}, design=design)
        enqueue(job)
    return job


def claim(job_id: int) -> Job | None:
    """Take a queued job for this worker; None when it is gone, done or already taken."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(id=job_id).first()
        if job is None or job.status != Job.Status.QUEUED:
            return None
        job.status, job.worker, job.started_at, job.heartbeat_at = Job.Status.RUNNING, worker_id(), now, now
        job.attempts += 1
        job.save(update_fields=["status", "worker", "started_at", "heartbeat_at", "attempts"])
        record_event("job.started", {"job": job.id, "kind": job.kind, "worker": job.worker,
                                     "attempt": job.attempts}, design=job.design)
    return job


def heartbeat(job: Job, progress: dict[str, Any] | None = None) -> None:
    fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if progress is not None:
        fields["progress"] = progress
    Job.objects.filter(id=job.id, status=Job.Status.RUNNING).update(**fields)


def finish(job: Job, *, design=None, summary: dict[str, Any] | None = None) -> Job:
    with transaction.atomic():
        job.status, job.finished_at = Job.Status.DONE, timezone.now()
        if design is not None:
            job.design = design
        job.save(update_fields=["status", "finished_at", "design"])
        record_event("job.done", {"job": job.id, "kind": job.kind, **(summary or {})}, design=job.design)
    return job


def fail(job: Job, category: str, message: str) -> Job:
    """The job failed; a verification it was running fails with it (no row left RUNNING, its budget
    released), and so does a researcher's request it was carrying (with the reason)."""
    with transaction.atomic():
        job.status, job.finished_at = Job.Status.FAILED, timezone.now()
        job.failure_category, job.error = category, message[:4000]
        job.save(update_fields=["status", "finished_at", "failure_category", "error"])
        record_event("job.failed", {"job": job.id, "kind": job.kind, "category": category,
                                    "message": message[:500]}, design=job.design)
        if job.kind == Job.Kind.VERIFY and job.verification_id is not None:
            fail_verification(job.verification_id, category, message)
        if job.kind == Job.Kind.DESIGN and job.params.get("request"):
            first_line = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
            fail_request(int(job.params["request"]), f"{category}: {first_line}" if first_line else category)
    return job


def requeue(job: Job, reason: str) -> Job:
    with transaction.atomic():
        job.status, job.worker, job.error = Job.Status.QUEUED, "", reason[:4000]
        job.save(update_fields=["status", "worker", "error"])
        record_event("job.requeued", {"job": job.id, "kind": job.kind, "reason": reason,
                                      "attempts": job.attempts}, design=job.design)
        enqueue(job)
    return job


def resend_lost(run, after_s: float) -> list[Job]:
    """Queued jobs whose message may be lost (the broker restarted empty, or the sender died between
    the commit and the send): send them again. For a queued job `heartbeat_at` is when it was last
    sent. A duplicate message is harmless: the claim runs a job once."""
    cutoff = timezone.now() - timezone.timedelta(seconds=after_s)
    lost = list(Job.objects.filter(run=run, status=Job.Status.QUEUED)
                .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)))
    for job in lost:
        with transaction.atomic():
            if Job.objects.filter(id=job.id, status=Job.Status.QUEUED).update(heartbeat_at=timezone.now()):
                log.info("sending %s again (queued for more than %.0f s)", job, after_s)
                enqueue(job)
    return lost


def reap_stale(run, stale_after_s: float, max_attempts: int) -> list[Job]:
    """Running jobs whose worker stopped heartbeating: re-queue them, or fail them after too many tries."""
    cutoff = timezone.now() - timezone.timedelta(seconds=stale_after_s)
    reaped = []
    for job in Job.objects.filter(run=run, status=Job.Status.RUNNING, heartbeat_at__lt=cutoff):
        reason = f"worker {job.worker or '?'} stopped answering (no heartbeat for {stale_after_s:.0f} s)"
        if job.attempts >= max_attempts:
            reaped.append(fail(job, "killed", reason + f"; gave up after {job.attempts} attempts"))
        else:
            reaped.append(requeue(job, reason))
    return reaped
