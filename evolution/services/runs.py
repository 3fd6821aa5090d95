"""The active evolution run and its per-rung verification budgets."""

from __future__ import annotations

from evolution.core.ladder import default_budgets
from evolution.models import EvolutionRun


def ensure_active_run() -> EvolutionRun:
    run = EvolutionRun.objects.filter(is_active=True).first()
    if run is None:
        run, _ = EvolutionRun.objects.get_or_create(
            name="default", defaults={"budgets": default_budgets(), "is_active": True}
        )
    return run
