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
from django.db.models import Prefetch, Sum
from django.utils import timezone

from evolution.core import reports
from evolution.core.ladder import RungInfo, ladder, rung
from evolution.core.loop_settings import LoopSettings
from evolution.models import Decision, Design, EvolutionRun, Verification
from evolution.selectors.fitness import counted, population_stats
from evolution.selectors.fitness import design_fitness as fitness_of
from evolution.services.events import record_event
from evolution.services.runs import ensure_active_run
from genesys_site.permissions import PROMOTE, REPORT, require
from verifier.core.train.audit import GROUP_SIZES, ReportRejected, audit_report, read_report
from verifier.core.train.fitness import (
    DEFAULT_METRIC,
    SCREEN_RUNG,
    RungFitness,
    compute_rung_fitness,
    metric_for,
)
from verifier.core.train.ladder import get_rung
from verifier.core.train.ladder import next_rung as ladder_next_rung
from verifier.core.train.report import VerificationReport

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
    done = [v.rung for v in design.verifications.all() if v.status == Verification.Status.DONE]
    name = ladder_next_rung(done, [r.name for r in run_rungs(run)])
    return rung(name) if name else None


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
        record_event("verification.running", {"verification": verification.id, "rung": verification.rung,
                                              "started_at": verification.started_at.isoformat()},
                     design=verification.design, actor=user)
    return verification


def record_report(verification: Verification, report: dict[str, Any], user=None, failed: bool = False) -> Verification:
    """Store a `VerificationReport.to_dict()`, recompute its rung fitness from the raw results (the
    number the report claims is checked, never used) and update F, its std, confidence and status of
    every design whose F depends on this rung's population. A report that is not a report, or whose
    raw results are impossible or disagree with its claims, fails the verification with the reason."""
    if user is not None:
        require(user, REPORT)
    failed, error, parsed, score = _judge(verification, report, failed)
    metrics = reports.summary_metrics(parsed) if parsed is not None else {}
    if score is not None:
        metrics["fitness"] = score.to_dict()
    with transaction.atomic():
        verification.report = report if isinstance(report, dict) else {"raw": str(report)[:10_000]}
        verification.status = Verification.Status.FAILED if failed else Verification.Status.DONE
        verification.fitness = None if failed or score is None else score.value
        verification.fitness_stderr = None if failed or score is None else score.stderr
        verification.fitness_metric = "" if score is None else score.metric
        verification.metrics = metrics
        verification.gpu_seconds = float(metrics.get("gpu_seconds", 0.0))
        verification.error = error
        verification.finished_at = timezone.now()
        verification.save()
        design = _refresh_design(verification.design)
        if score is not None and score.value is not None:
            _refresh_population(verification.rung, score.metric, exclude=design.pk)
        record_event("verification.done" if not failed else "verification.failed", {
            "verification": verification.id, "rung": verification.rung, "fitness": verification.fitness,
            "fitness_stderr": verification.fitness_stderr, "metric": verification.fitness_metric,
            "design_fitness": design.fitness, "design_fitness_std": design.fitness_std,
            "confidence": design.confidence, "status": design.status, "error": error,
        }, design=design, actor=user)
    return verification


def _judge(verification: Verification, report: Any, failed: bool
           ) -> tuple[bool, str, VerificationReport | None, RungFitness | None]:
    """(failed, error, the report through the schema, the recomputed rung fitness). A run that
    failed keeps its own reason; a report that cannot be trusted fails with `report_rejected: …`."""
    error = str(report.get("error") or "") if isinstance(report, dict) else "the report is not a JSON object"
    failed = failed or bool(error) or not isinstance(report, dict) or report.get("status") in ("failed", "interrupted")
    parsed, score = None, None
    try:
        parsed = read_report(report)
    except ReportRejected as exc:
        if not failed:
            failed, error = True, f"report_rejected: {exc}"
    if not failed:
        try:
            parsed, score = _score(verification, report)
        except ReportRejected as exc:
            failed, error = True, f"report_rejected: {exc}"
    return failed, error, parsed, score


def _score(verification: Verification, report: dict[str, Any]) -> tuple[VerificationReport, RungFitness]:
    """Audit the report against its rung and recompute the rung fitness under the run's metric."""
    try:
        rung_def = get_rung(verification.rung)
    except KeyError:
        rung_def = None
    if rung_def is None and verification.rung != SCREEN_RUNG:
        raise ReportRejected(f"unknown rung {verification.rung!r}")
    parsed = audit_report(report, rung_def, rung_name=verification.rung,
                          design_hash=verification.design.tree_hash or None)
    if verification.design.tree_hash and not parsed.design_hash:
        raise ReportRejected("the report does not name the design it verified (design_hash)")
    choice = _run_metric(verification.run)
    metric = metric_for(verification.rung, rung_def.device if rung_def else "cpu", choice,
                        gpu_above=_gpu_above(verification.run))
    score = compute_rung_fitness(metric, parsed.eval, val_bpb=parsed.val_bpb, components=parsed.components,
                                 groups=GROUP_SIZES)
    if score.value is None and (parsed.eval or parsed.components):
        raise ReportRejected(f"the report has no raw results for the {metric} fitness of rung {verification.rung}")
    return parsed, score


def _run_metric(run: EvolutionRun | None) -> str:
    return LoopSettings.from_dict(run.settings).fitness_metric if run is not None else DEFAULT_METRIC


def _gpu_above(run: EvolutionRun | None) -> bool:
    """Does the run verify at a GPU rung (14M and up: a budget above 0)? A verification outside any
    run (a researcher's one-off) is scored as for the whole ladder, which has them."""
    if run is None:
        return True
    budgets = run.budgets or {}
    return any(r.device != "cpu" and int(budgets.get(r.name) or 0) > 0 for r in run_rungs(run))


def _refresh_population(rung_name: str, metric: str, exclude: int | None = None) -> None:
    """A new value at (rung, metric) moves that population's mean and std, so every F built on it."""
    designs = (Design.objects.filter(verifications__rung=rung_name, verifications__fitness_metric=metric,
                                     verifications__status=Verification.Status.DONE)
               .exclude(pk=exclude).distinct().prefetch_related("verifications"))
    stats = population_stats()
    changed = []
    for design in designs:
        combined = fitness_of(design, stats)
        if (design.fitness, design.fitness_std) != (combined.fitness, combined.std):
            design.fitness, design.fitness_std = combined.fitness, combined.std
            changed.append(design)
    Design.objects.bulk_update(changed, ["fitness", "fitness_std"])


# What F reads of a verification (`terms_of`, `counted`): not the reports, which are ~20 kB each.
FITNESS_FIELDS = ("id", "design_id", "rung", "rung_index", "seed", "status", "fitness", "fitness_metric",
                  "fitness_stderr")


def _confidence(verifications) -> int:
    """The number of ladder rungs a design was verified at (rungs, not seeds)."""
    return len({v.rung for v in verifications if counted(v)})


def refresh_all_fitness() -> int:
    """Recompute every design's F, its std and its confidence from the verifications stored now, for
    when rows changed outside `record_report` (a migration renamed a redefined rung's results).
    Statuses are left alone. Returns how many designs changed."""
    stats = population_stats()
    rows = Prefetch("verifications", queryset=Verification.objects.only(*FITNESS_FIELDS))
    changed = []
    for design in Design.objects.only("id", "fitness", "fitness_std", "confidence").prefetch_related(rows):
        combined = fitness_of(design, stats)
        confidence = _confidence(design.verifications.all())
        if (design.fitness, design.fitness_std, design.confidence) != (combined.fitness, combined.std, confidence):
            design.fitness, design.fitness_std, design.confidence = combined.fitness, combined.std, confidence
            changed.append(design)
    Design.objects.bulk_update(changed, ["fitness", "fitness_std", "confidence"], batch_size=500)
    return len(changed)


def _refresh_design(design: Design) -> Design:
    """F and its std from the rungs verified (verifier.core.train.fitness: z-scores within each
    rung's population, averaged), confidence their number. Only ladder rungs count: a smoke run at
    the `test` rung (16k tokens, 10 examples a task) is kept and shown, but says nothing."""
    rows = list(design.verifications.all())
    done = [v for v in rows if counted(v)]
    combined = fitness_of(design)
    design.confidence = _confidence(done)
    design.fitness, design.fitness_std = combined.fitness, combined.std
    design.gpu_seconds = float(design.verifications.aggregate(s=Sum("gpu_seconds"))["s"] or 0.0)
    if any(v.status in (Verification.Status.QUEUED, Verification.Status.RUNNING) for v in rows):
        design.status = Design.Status.VERIFYING
    elif done or any(v.status == Verification.Status.DONE for v in rows):
        design.status = Design.Status.VERIFIED  # a smoke run at `test` verifies too; it only adds no F
    else:
        design.status = Design.Status.FAILED
    design.save(update_fields=["confidence", "fitness", "fitness_std", "gpu_seconds", "status", "updated_at"])
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
