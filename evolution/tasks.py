"""Celery tasks of the evolution loop. Thin: they take a job id and call the work functions in
evolution.services.work, which claim the job, do it, and write results through services.

acks_late + reject_on_worker_lost: a message is acknowledged only when its task returns, so a
killed worker's task is delivered again; the job claim makes the second delivery a no-op when the
work was already picked up again by the conductor's reaper.
"""

from __future__ import annotations

from celery import shared_task

from evolution.models import Job
from evolution.services import work

COMMON = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True,
          "autoretry_for": (work.TransientError,), "retry_backoff": 5, "retry_backoff_max": 300,
          "max_retries": 5}


@shared_task(name="evolution.design_job", **COMMON)
def design_job(job_id: int) -> None:
    work.run_design_job(job_id)


@shared_task(name="evolution.check_job", **COMMON)
def check_job(job_id: int) -> None:
    work.run_check_job(job_id)


@shared_task(name="evolution.verify_job", **COMMON)
def verify_job(job_id: int) -> None:
    work.run_verify_job(job_id)


def send(job: Job) -> None:
    """How a job reaches its worker: its kind's task on its kind's queue (registered with
    `evolution.services.jobs.set_sender` when the app starts)."""
    task = {Job.Kind.DESIGN: design_job, Job.Kind.CHECK: check_job, Job.Kind.VERIFY: verify_job}[job.kind]
    try:
        task.apply_async(args=[job.id], queue=job.kind)
    except Exception:
        # After the broker went away kombu can keep a broken connection in its pools, and every later
        # send fails ("'NoneType' object has no attribute 'hostname'"): drop the pools so the next
        # send (jobs.resend_lost) connects afresh; the caller logs this failure, the job stays queued.
        _reset_broker_pools()
        raise


def _reset_broker_pools() -> None:
    """Forget every broker connection and producer pool of this process. kombu keeps its pools in a
    process-wide registry keyed by the broker URL: closing them is not enough (the registry hands the
    closed pool back, and every send fails with "Acquire on closed pool"); `pools.reset()` closes
    and forgets them, and the app builds new ones on the next send."""
    from celery import current_app
    from kombu import pools

    pools.reset()
    current_app._pool = None
    current_app.amqp._producer_pool = None
