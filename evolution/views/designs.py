"""The designs list: every design with filters, sorting and pages (the tree shows the same designs as a graph)."""

from __future__ import annotations

from django.views.decorators.http import require_GET

from evolution.core.ladder import ladder
from evolution.models import Design
from evolution.selectors.design_index import PAGE_SIZES, SORTS, design_index, operators, runs
from evolution.views.common import page
from genesys_site.permissions import viewer_required


@require_GET
@viewer_required
def design_list_page(request):
    listing = design_index(request.GET)
    params = request.GET.copy()
    params.pop("page", None)
    base_query = params.urlencode()
    params.pop("sort", None)
    ctx = {
        "listing": listing, "query": listing.query, "statuses": Design.Status.choices,
        "origins": Design.OriginKind.choices, "operators": operators(), "runs": runs(),
        "rungs": [r.name for r in ladder()], "sorts": SORTS.items(), "page_sizes": PAGE_SIZES,
        "base_query": base_query, "sort_base": params.urlencode(),
    }
    template = "evolution/partials/design_list.html" if request.htmx else "evolution/designs.html"
    return page(request, template, ctx)
