"""Leaderboard per rung, with filters and the seeds as baselines."""

from __future__ import annotations

from django.views.decorators.http import require_GET

from evolution.core.ladder import ladder
from evolution.models import Design
from evolution.selectors.designs import DesignFilters
from evolution.selectors.leaderboard import leaderboard, rungs_with_results
from evolution.selectors.runs import active_run, budgets_overview
from evolution.views.common import page
from genesys_site.permissions import viewer_required

DEFAULT_ROWS, MAX_ROWS = 100, 2000


@require_GET
@viewer_required
def leaderboard_page(request):
    available = rungs_with_results()
    rung = request.GET.get("rung") or (available[0] if available else (ladder()[0].name if ladder() else ""))
    try:
        limit = max(1, min(MAX_ROWS, int(request.GET.get("limit", DEFAULT_ROWS))))
    except ValueError:
        limit = DEFAULT_ROWS
    board = leaderboard(rung, request.GET, limit=limit)
    ctx = {
        "board": board, "rung": rung, "available": available, "all_rungs": [r.name for r in ladder()],
        "filters": DesignFilters.from_params(request.GET), "origins": Design.OriginKind.choices,
        "params": request.GET, "budgets": budgets_overview(active_run()),
    }
    template = "evolution/partials/leaderboard_table.html" if request.htmx else "evolution/leaderboard.html"
    return page(request, template, ctx)
