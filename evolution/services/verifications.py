"""Promotion to the next rung and the results that come back.

A promotion is idempotent: it targets the rung after the highest one already verified (or the rung
the page showed, sent with the form) and relies on the unique (design, rung) row, so a double click
or two researchers clicking at once queue one verification. The run loop picks queued rows up (and
will hook its task onto the `verification.queued` event).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from evolution.core import reports
from evolution.core.ladder import RungInfo, is_ladder_rung, ladder, rung, rung_index
from evolution.models import Decision, Design, EvolutionRun, Verification
from evolution.services.events import record_event
from evolution.services.runs import ensure_active_run
from genesys_site.permissions import PROMOTE, REPORT, require

PROMOTABLE = (Design.Status.CHECKED, Design.Status.VERIFYING, Design.Status.VERIFIED, Design.Status.FAILED)


class PromotionRefused(ValidationError):
    """The design cannot go up a rung now; the message says why."""


def run_rungs(run: EvolutionRun) -> list[RungInfo]:
    """The rungs this run verifies at, in ladder order."""
    return [r for r in ladder() if r.name in (run.budgets or {})]


def budget_left(run: EvolutionRun, rung_name: str) -> int:
    used = Verification.objects.filter(run=run, rung=rung_name).exclude(status=Verification.Status.FAILED).count()
    return int((run.budgets or {}).get(rung_name, 0)) - used


def next_rung(design: Design, run: EvolutionRun) -> RungInfo | None:
    """The rung above the highest one this design has passed (the run's first rung if none)."""
    done = {v.rung for v in design.verifications.all() if v.status == Verification.Status.DONE}
    top = max((rung_index(name) for name in done if is_ladder_rung(name)), default=-1)  # `test` is no step
    return next((r for r in run_rungs(run) if r.index > top), None)


def promote(design: Design, user, rung_name: str | None = None) -> tuple[Verification, bool]:
    """Queue a verification of `design` at `rung_name` (default: its next rung). Returns (row, created)."""
    require(user, PROMOTE)
    if design.is_vetoed:
        raise PromotionRefused("a vetoed design is not promoted")
    if design.status not in PROMOTABLE:
        raise PromotionRefused(f"only checked designs are promoted; this one is {design.status}")
    run = ensure_active_run()
    target = rung(rung_name) if rung_name else next_rung(design, run)
    if target is None:
        raise PromotionRefused(f"no rung {rung_name!r}" if rung_name else "verified at every rung of this run")
    if target.name not in (run.budgets or {}):
        raise PromotionRefused(f"run {run.name!r} does not verify at {target.name}")
    with transaction.atomic():
        existing = Verification.objects.filter(design=design, rung=target.name).first()
        if existing is not None and existing.status != Verification.Status.FAILED:
            return existing, False
        if budget_left(run, target.name) <= 0:
            raise PromotionRefused(f"the {target.name} budget of run {run.name!r} is spent")
        if existing is not None:  # a retry of a failed verification
            existing.status, existing.error, existing.requested_by, existing.run = "queued", "", user, run
            existing.save(update_fields=["status", "error", "requested_by", "run"])
            verification = existing
        else:
            try:
                with transaction.atomic():
                    verification = Verification.objects.create(
                        design=design, rung=target.name, rung_index=target.index, run=run, requested_by=user,
                    )
            except IntegrityError:  # the other click won
                return Verification.objects.get(design=design, rung=target.name), False
        Decision.objects.create(design=design, actor=user, kind=Decision.Kind.PROMOTE, rung=target.name,
                                details={"verification": verification.id, "est_gpu_seconds": target.est_gpu_seconds})
        if design.status != Design.Status.VERIFIED:
            Design.objects.filter(pk=design.pk).update(status=Design.Status.VERIFYING, updated_at=timezone.now())
        record_event("verification.queued", {
            "verification": verification.id, "rung": target.name, "est_gpu_seconds": target.est_gpu_seconds,
            "budget_left": budget_left(run, target.name),
        }, design=design, actor=user)
    return verification, True


def start_verification(verification: Verification, user=None) -> Verification:
    if user is not None:
        require(user, REPORT)
    with transaction.atomic():
        verification.status = Verification.Status.RUNNING
        verification.started_at = timezone.now()
        verification.save(update_fields=["status", "started_at"])
        record_event("verification.running", {"verification": verification.id, "rung": verification.rung},
                     design=verification.design, actor=user)
    return verification


def record_report(verification: Verification, report: dict[str, Any], user=None, failed: bool = False) -> Verification:
    """Store a `VerificationReport.to_dict()` and update the design's fitness, confidence and status."""
    if user is not None:
        require(user, REPORT)
    error = str(report.get("error") or "") if isinstance(report, dict) else ""
    failed = failed or bool(error) or report.get("status") in ("failed", "interrupted")
    metrics = reports.summary_metrics(report)
    with transaction.atomic():
        verification.report = report
        verification.status = Verification.Status.FAILED if failed else Verification.Status.DONE
        verification.fitness = None if failed else reports.fitness(report)
        verification.metrics = metrics
        verification.gpu_seconds = float(metrics.get("gpu_seconds", 0.0))
        verification.error = error
        verification.finished_at = timezone.now()
        verification.save()
        design = _refresh_design(verification.design)
        record_event("verification.done" if not failed else "verification.failed", {
            "verification": verification.id, "rung": verification.rung, "fitness": verification.fitness,
            "design_fitness": design.fitness, "confidence": design.confidence, "status": design.status,
        }, design=design, actor=user)
    return verification


def _refresh_design(design: Design) -> Design:
    """Fitness is the mean over the rungs verified, confidence their number (the paper's Eq. 1).
    Only ladder rungs count: a smoke run at the `test` rung (16k tokens, 10 examples a task) is kept
    and shown, but says nothing about the design."""
    rows = list(design.verifications.all())
    done = [v for v in rows if v.status == Verification.Status.DONE and v.fitness is not None
            and is_ladder_rung(v.rung)]
    design.confidence = len(done)
    design.fitness = sum(v.fitness for v in done) / len(done) if done else None
    design.gpu_seconds = float(design.verifications.aggregate(s=Sum("gpu_seconds"))["s"] or 0.0)
    if any(v.status in (Verification.Status.QUEUED, Verification.Status.RUNNING) for v in rows):
        design.status = Design.Status.VERIFYING
    elif done:
        design.status = Design.Status.VERIFIED
    else:
        design.status = Design.Status.FAILED
    design.save(update_fields=["confidence", "fitness", "gpu_seconds", "status", "updated_at"])
    return design


def fail_verification(verification_id: int, category: str, message: str) -> Verification | None:
    """A verification whose job died (a crash in the worker, the reaper giving up) fails with the
    reason instead of staying queued or running; a failed row no longer counts against the budget.
    Rows that already ended are left alone."""
    with transaction.atomic():
        verification = Verification.objects.select_for_update().filter(
            id=verification_id, status__in=(Verification.Status.QUEUED, Verification.Status.RUNNING)).first()
        if verification is None:
            return None
        failure = {"category": category, "message": message[:4000], "step": None}
        verification.status = Verification.Status.FAILED
        verification.error = f"{category}: {message.splitlines()[0] if message else ''}"[:4000]
        verification.report = {**(verification.report or {}), "status": "failed", "failure": failure,
                               "error": verification.error}
        verification.fitness = None
        verification.finished_at = timezone.now()
        verification.save(update_fields=["status", "error", "report", "fitness", "finished_at"])
        design = _refresh_design(verification.design)
        record_event("verification.failed", {
            "verification": verification.id, "rung": verification.rung, "fitness": None, "category": category,
            "design_fitness": design.fitness, "confidence": design.confidence, "status": design.status,
        }, design=design)
    return verification
