"""Reads for the loop's throughput panel and `benchmarks/bench_loop.py`: designs made, checked,
screened and verified per hour of the current run, and where the workers' time went (the
arithmetic is `evolution.core.loop_rates`; this gathers its rows in four queries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from evolution.core.loop_rates import DesignRow, VerificationRow, loop_rates
from evolution.models import CheckRun, Design, Event, EvolutionRun, Job, Verification

FINISHED_JOBS = (Job.Status.DONE, Job.Status.FAILED)


def _job_seconds(kind: str, run: EvolutionRun, key: str) -> dict[int, float]:
    """Wall time of the run's finished jobs of `kind`, by `key` (design_id or verification_id)."""
    out: dict[int, float] = {}
    rows = (Job.objects.filter(run=run, kind=kind, status__in=FINISHED_JOBS, started_at__isnull=False,
                               finished_at__isnull=False).exclude(**{f"{key}__isnull": True})
            .values_list(key, "started_at", "finished_at"))
    for target, started, finished in rows:
        out[target] = out.get(target, 0.0) + (finished - started).total_seconds()  # retries add up
    return out


def loop_rates_for_run(run: EvolutionRun | None, now: datetime | None = None,
                       since: datetime | None = None) -> dict[str, Any] | None:
    """The run's rates and time split since `since` (default: since the run was created)."""
    if run is None:
        return None
    now = now or timezone.now()
    since = since or run.created_at
    design_ids = list(Design.objects.real().filter(run=run, created_at__gte=since, created_at__lte=now)
                      .exclude(origin_kind=Design.OriginKind.SEED).values_list("id", flat=True))
    checks: dict[int, tuple[bool, Any]] = {}
    for design_id, passed, report in (CheckRun.objects.filter(design_id__in=design_ids)
                                      .order_by("created_at", "id").values_list("design_id", "passed", "report")):
        checks[design_id] = (passed, (report or {}).get("seconds") if isinstance(report, dict) else None)
    design_jobs = _job_seconds(Job.Kind.DESIGN, run, "design_id")
    designs = [DesignRow(job_s=design_jobs.get(i), checked=i in checks, passed=bool(checks.get(i, (False,))[0]),
                         check_s=checks.get(i, (False, None))[1]) for i in design_ids]
    verify_jobs = _job_seconds(Job.Kind.VERIFY, run, "verification_id")
    rows = (Verification.objects.real().filter(run=run, finished_at__gte=since, finished_at__lte=now,
                                               status__in=(Verification.Status.DONE, Verification.Status.FAILED))
            .values_list("id", "rung", "status", "report"))
    rows = list(rows)
    verifications = [
        VerificationRow(rung=rung, failed=status == Verification.Status.FAILED,
                        phases=_phases(report), job_s=verify_jobs.get(vid))
        for vid, rung, status, report in rows
    ]
    verifications += _in_progress(run, since, now, exclude={vid for vid, *_ in rows})
    figures = loop_rates(designs, verifications, (now - since).total_seconds())
    figures["since"] = since
    return figures


def _phases(report: Any) -> dict[str, Any]:
    phases = report.get("wall_time_s") if isinstance(report, dict) else None
    return phases if isinstance(phases, dict) else {}


def _in_progress(run: EvolutionRun, since: datetime, now: datetime, exclude: set[int]) -> list[VerificationRow]:
    """The run's verifications that worked in the window but did not finish in it, with the phases so
    far timed by their progress events (each phase lasts until the next one, the last until `now`)."""
    started = dict(Verification.objects.real().filter(run=run, started_at__isnull=False, started_at__lte=now)
                   .exclude(id__in=exclude).exclude(finished_at__lt=since).values_list("id", "started_at"))
    marks: dict[int, list[tuple[datetime, str, str]]] = {}
    events = (Event.objects.filter(kind="verification.progress", created_at__gte=since, created_at__lte=now,
                                   payload__kind="phase").order_by("created_at", "id")
              .values_list("created_at", "payload"))
    for at, payload in events:
        vid = payload.get("verification") if isinstance(payload, dict) else None
        if vid in started and isinstance(payload.get("phase"), str):
            marks.setdefault(vid, []).append((at, payload["phase"], str(payload.get("rung", ""))))
    out = []
    for vid, seen in marks.items():
        phases: dict[str, float] = {}
        for (at, phase, _), (after, *_rest) in zip(seen, [*seen[1:], (now,)], strict=True):
            phases[phase] = phases.get(phase, 0.0) + (after - at).total_seconds()
        first = seen[0][0]
        lead = (first - max(started[vid], since)).total_seconds()
        out.append(VerificationRow(rung=seen[0][2], failed=False, phases=phases, job_s=lead + sum(phases.values()),
                                   in_progress=True))
    return out
