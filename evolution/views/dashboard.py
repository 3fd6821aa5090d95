"""The dashboard: fitness over generations and time, the ladder, throughput, workers, the event feed
and (for researchers) the run controls.

The page renders everything once; afterwards the browser re-reads a panel (an htmx partial) or the
fitness series (JSON) when the event stream says it changed, so what is shown is always what the
tables say, never a client-side guess.
"""

from __future__ import annotations

from django.http import Http404, JsonResponse
from django.views.decorators.http import require_GET

from evolution.selectors import backpressure as bp
from evolution.selectors import dashboard as q
from evolution.selectors.loop_rates import loop_rates_for_run
from evolution.selectors.requests import recent_requests
from evolution.selectors.runs import active_run
from evolution.views.common import page
from evolution.views.run_controls import controls_context
from genesys_site.permissions import PROMOTE, can, viewer_required

PANELS = ("ladder", "throughput", "workers", "feed", "controls", "summary", "pressure", "loop_rates")


def _panel_context(name: str, request, run, cache: dict | None = None) -> dict:
    cache = {} if cache is None else cache
    if "pressure" not in cache and name in ("workers", "summary", "pressure", "controls"):
        cache["pressure"] = bp.pressure(run)
    if name == "pressure":
        return {"pressure": cache["pressure"], "requests": recent_requests(run)}
    if name == "ladder":
        return {"ladder": q.ladder_rows(run), "agreement": q.rank_agreement(run)}
    if name == "throughput":
        return {"throughput": q.throughput(run)}
    if name == "workers":
        rows = q.worker_rows(run)
        return {"workers": rows, "slots": q.worker_summary(run, rows), "pressure": cache["pressure"]}
    if name == "feed":
        return {"feed": q.recent_events()}
    if name == "summary":
        return {"summary": q.run_summary(run), "pressure": cache["pressure"]}
    if name == "loop_rates":
        return {"loop_rates": loop_rates_for_run(run)}
    if name == "controls":
        return controls_context(run, pressure=cache["pressure"]) if can(request.user, PROMOTE) else {}
    raise Http404(f"no panel {name!r}")


@require_GET
@viewer_required
def dashboard_page(request):
    run = active_run()
    ctx = {"run": run, "cursor": q.live_cursor(), "fitness": q.fitness_series(run)}
    cache: dict = {}
    for name in PANELS:
        ctx.update(_panel_context(name, request, run, cache))
    return page(request, "evolution/dashboard.html", ctx)


@require_GET
@viewer_required
def dashboard_panel(request, panel: str):
    """htmx partial: one panel, re-read when the event stream says it changed."""
    if panel not in PANELS or (panel == "controls" and not can(request.user, PROMOTE)):
        raise Http404(f"no panel {panel!r}")
    run = active_run()
    return page(request, f"evolution/partials/dashboard_{panel}.html", {"run": run, **_panel_context(panel, request, run)})


@require_GET
@viewer_required
def dashboard_fitness(request):
    """The fitness series per rung, for redrawing the chart."""
    return JsonResponse(q.fitness_series(active_run()))
