"""Reads for back-pressure: each stage's backlog, limit, workers and measured rate, handed to
`evolution.core.backpressure.assess`, whose decision the conductor obeys and the pages explain."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from evolution.core.backpressure import SCREEN, VERIFY, Pressure, StageLoad, assess
from evolution.core.ladder import rung
from evolution.core.loop_settings import LoopSettings
from evolution.models import Design, EvolutionRun, Verification
from evolution.selectors.loop import run_rung_names
from verifier.core.train.ladder import rung_budget

RATE_WINDOW_H = 3.0  # finished verifications over the last hours give the measured rate


def has_screen(run: EvolutionRun) -> bool:
    """Whether new designs of the run get the screen first (the screen is its cheapest rung)."""
    names = run_rung_names(run)
    return len(names) > 1 and names[0] == SCREEN


def verify_rung(run: EvolutionRun) -> str:
    """The rung of a design's first verification (above the screen, if the run screens)."""
    names = [n for n in run_rung_names(run) if n != SCREEN]
    return names[0] if names else SCREEN


def _waiting(run: EvolutionRun) -> QuerySet[Design]:
    """The run's real designs the loop may still verify (vetoed ones never drain: they do not count)."""
    return Design.objects.real().filter(run=run).exclude(verdict=Design.Verdict.VETOED)


def screen_backlog(run: EvolutionRun) -> int:
    """Checked designs that no verification has touched yet (with a screen: awaiting the screen)."""
    return _waiting(run).filter(status=Design.Status.CHECKED, verifications__isnull=True).count()


def screened_backlog(run: EvolutionRun) -> int:
    """Designs screened (done) with no verification above the screen yet, queued, running or done."""
    screened = Verification.objects.filter(design=OuterRef("pk"), rung=SCREEN, status=Verification.Status.DONE)
    above = (Verification.objects.filter(design=OuterRef("pk")).exclude(rung=SCREEN)
             .exclude(status=Verification.Status.FAILED))
    return _waiting(run).filter(Exists(screened)).exclude(Exists(above)).count()


def measured_per_hour(run: EvolutionRun, rung_name: str, now: datetime | None = None) -> float | None:
    """Verifications at the rung finished (done or failed) per hour over the last RATE_WINDOW_H hours
    (or since the run started, at least an hour); None when none finished in that time."""
    now = now or timezone.now()
    span_h = min(RATE_WINDOW_H, max(1.0, (now - run.created_at).total_seconds() / 3600))
    finished = Verification.objects.filter(
        Q(run=run), rung=rung_name, finished_at__gte=now - timedelta(hours=span_h),
        status__in=(Verification.Status.DONE, Verification.Status.FAILED)).count()
    return finished / span_h if finished else None


def stage_loads(run: EvolutionRun, settings: LoopSettings | None = None) -> list[StageLoad]:
    settings = settings or LoopSettings.from_dict(run.settings)
    first = verify_rung(run)

    def est(name: str) -> float | None:
        info = rung(name)
        return info.est_seconds if info else None

    if not has_screen(run):
        return [StageLoad(VERIFY, first, screen_backlog(run), settings.max_backlog, settings.verify_workers,
                          measured_per_hour(run, first), est(first))]
    return [
        StageLoad(SCREEN, SCREEN, screen_backlog(run), settings.max_screen_backlog, settings.verify_workers,
                  measured_per_hour(run, SCREEN), est(SCREEN)),
        StageLoad(VERIFY, first, screened_backlog(run), settings.max_backlog, settings.verify_workers,
                  measured_per_hour(run, first), est(first)),
    ]


def pressure(run: EvolutionRun | None, settings: LoopSettings | None = None) -> Pressure | None:
    """The run's back-pressure now (None without a run)."""
    if run is None:
        return None
    return assess(stage_loads(run, settings), budgets=dict(run.budgets or {}), screen_budget=rung_budget(SCREEN))
