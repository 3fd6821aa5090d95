"""Runs: the active one, and starting a new one from an ablation preset and any settings diff.

Several runs may run at once and share the database: the conductor dispatches every active run,
each run's designs carry it, and seeds and uploads (no run) belong to every run."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from evolution.core.ladder import default_budgets
from evolution.core.loop_settings import SettingsError, preset_of, preset_settings, settings_diff
from evolution.models import EvolutionRun
from evolution.services.events import record_event
from genesys_site.permissions import PROMOTE, require


def ensure_active_run() -> EvolutionRun:
    run = EvolutionRun.objects.filter(is_active=True).first()
    if run is None:
        run, _ = EvolutionRun.objects.get_or_create(
            name="default", defaults={"budgets": default_budgets(), "is_active": True}
        )
    return run


def start_run(name: str, preset: str = "full", diff: dict[str, Any] | None = None,
              budgets: dict[str, int] | None = None, notes: str = "", user=None) -> EvolutionRun:
    """A new active run with the preset's settings and `diff` on top; other runs keep running.
    Raises SettingsError (the message names the field) for a bad name, preset, setting or budget."""
    from evolution.services.loop import _valid_budgets

    if user is not None:
        require(user, PROMOTE)
    name = (name or "").strip()
    if not name or len(name) > 100 or "\x00" in name:
        raise SettingsError("name must be 1 to 100 characters (no NUL)")
    notes = (notes or "").replace("\x00", "")
    settings = preset_settings(preset, diff)
    chosen = _valid_budgets(budgets) if budgets else default_budgets()
    try:
        with transaction.atomic():
            run = EvolutionRun.objects.create(name=name, budgets=chosen, settings=settings.to_dict(), notes=notes,
                                              is_active=True)
            record_event("run.started", {"run": run.id, "name": name, "preset": preset_of(settings),
                                         "diff": settings_diff(settings), "budgets": chosen}, actor=user)
    except IntegrityError:
        raise SettingsError(f"name {name!r} is taken by another run") from None
    return run
