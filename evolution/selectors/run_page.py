"""What the run pages show: every run with its preset and settings diff; one run's ledger, lineage
analytics and downloads."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import Http404

from evolution.core.loop_settings import PRESETS, LoopSettings, SettingsError, preset_of, settings_diff
from evolution.models import EvolutionRun
from evolution.selectors.backpressure import pressure
from evolution.selectors.ledger import run_ledger
from evolution.selectors.lineage_stats import run_lineage
from evolution.selectors.requests import recent_requests
from evolution.selectors.run_export import TABLES


def _settings(run: EvolutionRun) -> LoopSettings:
    try:
        return LoopSettings.from_dict(run.settings)
    except (SettingsError, TypeError):
        return LoopSettings()  # a hand-edited row that no longer validates: shown as the defaults


def preset_label(run: EvolutionRun) -> str:
    name = preset_of(_settings(run))
    return PRESETS[name][0] if name in PRESETS else "Custom"


def run_rows() -> list[dict[str, Any]]:
    runs = EvolutionRun.objects.annotate(n_designs=Count("designs")).order_by("-is_active", "-created_at", "-id")
    return [{"run": r, "preset": preset_label(r), "diff": settings_diff(_settings(r)), "designs": r.n_designs}
            for r in runs]


def get_run(pk: int) -> EvolutionRun:
    run = EvolutionRun.objects.filter(pk=pk).first()
    if run is None:
        raise Http404(f"no run {pk}")
    return run


def run_page(run: EvolutionRun) -> dict[str, Any]:
    ledger = run_ledger(run)
    return {
        "run": run, "preset": preset_label(run), "diff": settings_diff(_settings(run)),
        "ledger": ledger, "lineage": run_lineage(run), "tables": TABLES,
        # Back-pressure and researchers' requests concern the active run only (the conductor runs it).
        "pressure": pressure(run) if run.is_active else None,
        "requests": recent_requests(run) if run.is_active else [],
        "ledger_designs": sorted(ledger["designs"], key=lambda r: (-r["dollars"], -r["gpu_s"], -r["cpu_s"], r["id"]))[:50],
    }
