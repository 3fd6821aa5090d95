"""A run's metrics as JSON (/runs/<id>/metrics.json) and runs compared (/runs/compare/?runs=a,b);
the run page itself (evolution.views.runs) shows the metrics with its ledger and lineage."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from evolution.models import EvolutionRun
from evolution.selectors.run_compare import CompareError, compare_runs, parse_run_ids, runs_by_id
from evolution.selectors.run_metrics import run_metrics
from evolution.selectors.run_page import get_run
from evolution.views.common import page
from genesys_site.permissions import viewer_required


@require_GET
@viewer_required
def run_metrics_json(request, pk: int):
    return JsonResponse(run_metrics(get_run(pk)))


@require_GET
@viewer_required
def run_compare(request):
    raw = request.GET.get("runs", "")
    try:
        runs = runs_by_id(parse_run_ids(raw))
    except CompareError as exc:
        runs_all = list(EvolutionRun.objects.all())
        return page(request, "evolution/run_compare.html", {"error": str(exc), "all_runs": runs_all, "raw": raw},
                    status=400 if raw else 200)
    comparison = compare_runs(runs)
    return page(request, "evolution/run_compare.html", {"comparison": comparison, "runs": runs, "raw": raw})
