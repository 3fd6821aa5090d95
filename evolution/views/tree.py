"""The evolution tree: the lineage graph of every design, with search and filters."""

from __future__ import annotations

from django.db.models import Count
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from evolution.core.ladder import ladder
from evolution.models import Design
from evolution.selectors.designs import DesignFilters, design_list
from evolution.selectors.lineage import lineage_graph, matching_ids
from evolution.views.common import page
from genesys_site.permissions import viewer_required

MAX_LISTED = 100


def _filter_context(request) -> dict:
    return {
        "filters": DesignFilters.from_params(request.GET),
        "statuses": Design.Status.choices,
        "origins": Design.OriginKind.choices,
        "rungs": [r.name for r in ladder()],
        "params": request.GET,
    }


@require_GET
@viewer_required
def tree_page(request):
    graph = lineage_graph()
    counts = dict(Design.objects.values_list("status").annotate(n=Count("id")))
    ctx = {
        "graph": graph,
        "matches": matching_ids(request.GET),
        "status_counts": [(s, label, counts.get(s, 0)) for s, label in Design.Status.choices],
        "color_by": request.GET.get("color", "fitness"),
        **_filter_context(request),
    }
    return page(request, "evolution/tree.html", ctx)


@require_GET
@viewer_required
def tree_graph(request):
    """The graph (and the ids the filters match) as JSON, for refreshing the plot."""
    return JsonResponse({**lineage_graph(), "matches": matching_ids(request.GET)})


@require_GET
@viewer_required
def tree_results(request):
    """htmx partial: the designs the filters match, with their ids for highlighting in the plot."""
    ids = matching_ids(request.GET)
    designs = design_list(request.GET, ordering=request.GET.get("order", "fitness"))
    ctx = {"designs": designs[:MAX_LISTED], "total": designs.count(), "ids": ids, "limit": MAX_LISTED,
           **_filter_context(request)}
    response = page(request, "evolution/partials/tree_results.html", ctx)
    # Keep the address bar shareable: the tree page with the same filters.
    query = request.GET.urlencode()
    response["HX-Replace-Url"] = reverse("evolution:tree") + (f"?{query}" if query else "")
    return response
