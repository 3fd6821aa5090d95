"""The runs: a list to pick from, one run's metrics (/runs/<id>/), and runs compared (/runs/compare/)."""

from __future__ import annotations

from django.db.models import Count
from django.http import Http404, JsonResponse
from django.views.decorators.http import require_GET

from evolution.models import Design, EvolutionRun
from evolution.selectors.run_compare import CompareError, compare_runs, parse_run_ids, runs_by_id
from evolution.selectors.run_metrics import run_metrics
from evolution.views.common import page
from genesys_site.permissions import viewer_required


@require_GET
@viewer_required
def run_list(request):
    runs = list(EvolutionRun.objects.all())
    counts = _design_counts(runs)
    rows = [{"run": r, "designs": counts.get(r.id, 0)} for r in runs]
    return page(request, "evolution/runs.html", {"rows": rows})


def _design_counts(runs: list[EvolutionRun]) -> dict[int, int]:
    return dict(Design.objects.real().filter(run__in=runs).values_list("run").annotate(n=Count("id"))
                .values_list("run", "n"))


def _run_or_404(run_id: int) -> EvolutionRun:
    run = EvolutionRun.objects.filter(id=run_id).first()
    if run is None:
        raise Http404(f"no run {run_id}")
    return run


@require_GET
@viewer_required
def run_page(request, run_id: int):
    run = _run_or_404(run_id)
    metrics = run_metrics(run)
    return page(request, "evolution/run.html", {"run": run, "metrics": metrics})


@require_GET
@viewer_required
def run_metrics_json(request, run_id: int):
    return JsonResponse(run_metrics(_run_or_404(run_id)))


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
