"""Reads about uploads: the check job behind an upload that is still being checked, and the text as
sent, line by line, with the line the reader stopped at marked."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.safestring import SafeString, mark_safe

from evolution.core.highlight import highlight_lines
from evolution.models import Job, Upload

MAX_SHOWN_LINES = 5000


@dataclass
class SourceLine:
    number: int
    html: SafeString  # highlighted and escaped
    error: bool


def source_lines(upload: Upload) -> list[SourceLine]:
    """The upload's text as highlighted lines; the error's line (the last line for an error at the
    end of the file) is marked. Empty when the text was not kept (an archive, not UTF-8)."""
    if not upload.source:
        return []
    lines = highlight_lines(upload.source)[:MAX_SHOWN_LINES]
    bad = min(upload.error_line, len(lines)) if upload.error_line else None
    return [SourceLine(n, mark_safe(html), n == bad)  # noqa: S308 - highlight_lines escapes the code
            for n, html in enumerate(lines, start=1)]


def check_job_of(upload: Upload) -> Job | None:
    """The latest check job of `upload` (queued, running, or failed when its worker kept dying)."""
    return Job.objects.filter(kind=Job.Kind.CHECK, params__upload=upload.id).order_by("-id").first()
