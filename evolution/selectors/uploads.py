"""Reads about uploads: the check job behind an upload that is still being checked."""

from __future__ import annotations

from evolution.models import Job, Upload


def check_job_of(upload: Upload) -> Job | None:
    """The latest check job of `upload` (queued, running, or failed when its worker kept dying)."""
    return Job.objects.filter(kind=Job.Kind.CHECK, params__upload=upload.id).order_by("-id").first()
