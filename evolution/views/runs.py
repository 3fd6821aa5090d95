"""Runs: the list with a start form (a preset and any settings diff), one run's page (cost ledger,
lineage analytics) and its tables as CSV or Parquet."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods

from evolution.core.loop_settings import PRESETS, SettingsError
from evolution.core.table_files import FORMATS, write_table
from evolution.selectors.run_export import TABLES, export_table
from evolution.selectors.run_page import get_run, run_page, run_rows
from evolution.services.runs import start_run
from evolution.views.common import page
from genesys_site.permissions import PROMOTE, can, viewer_required


def _diff(text: str) -> dict[str, Any]:
    text = (text or "").strip()
    if not text:
        return {}
    def no_constants(name: str) -> None:  # JSON (and PostgreSQL's jsonb) has no NaN or infinity
        raise SettingsError(f"settings diff must hold finite numbers, got {name}")

    try:
        diff = json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"settings diff must be a JSON object: {exc.msg}") from None
    if not isinstance(diff, dict):
        raise SettingsError("settings diff must be a JSON object, e.g. {\"explore_prob\": 0.5}")
    return diff


@require_http_methods(["GET", "POST"])
@viewer_required
def runs_page(request):
    form = {"name": "", "preset": "full", "diff": "", "notes": ""}
    status = 200
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        if not can(request.user, PROMOTE):
            messages.error(request, "only researchers and admins start runs")
            status = 403
        else:
            try:
                run = start_run(form["name"], form["preset"] or "full", _diff(form["diff"]), notes=form["notes"],
                                user=request.user)
            except SettingsError as exc:
                messages.error(request, str(exc))
                status = 400
            else:
                messages.success(request, f"run {run.name} started")
                return redirect("evolution:run", pk=run.pk)
    presets = [{"name": n, "label": label, "changes": changes} for n, (label, changes) in PRESETS.items()]
    return page(request, "evolution/runs.html", {"runs": run_rows(), "presets": presets, "form": form}, status=status)


@require_GET
@viewer_required
def run_detail(request, pk: int):
    run = get_run(pk)
    return page(request, "evolution/run.html", run_page(run))


@require_GET
@viewer_required
def run_export(request, pk: int, table: str, fmt: str):
    run = get_run(pk)
    if table not in TABLES or fmt not in FORMATS:
        return HttpResponse(f"no table {table!r} as {fmt!r}: tables are {', '.join(TABLES)}; formats "
                            f"{', '.join(FORMATS)}", status=404, content_type="text/plain; charset=utf-8")
    columns, rows, types = export_table(run, table)
    response = HttpResponse(write_table(fmt, columns, rows, types), content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{run.name}-{table}.{fmt}"'.replace("/", "_")
    return response
