"""The unit browser: every unit with the designs that use it and their fitness."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.views.decorators.http import require_GET

from evolution.core.highlight import highlight_lines
from evolution.selectors.lineage_stats import unit_lineage
from evolution.selectors.units import designs_using, get_unit, other_versions, unit_list
from evolution.views.common import page
from genesys_site.permissions import viewer_required


@require_GET
@viewer_required
def unit_browser(request):
    q = request.GET.get("q", "").strip()
    units = Paginator(unit_list(q), 50).get_page(request.GET.get("page"))
    template = "evolution/partials/unit_table.html" if request.htmx else "evolution/units.html"
    return page(request, template, {"units": units, "q": q})


@require_GET
@viewer_required
def unit_detail(request, content_hash: str):
    unit = get_unit(content_hash)
    return page(request, "evolution/unit.html", {
        "unit": unit, "designs": designs_using(unit)[:500], "versions": other_versions(unit)[:50],
        "lines": list(enumerate(highlight_lines(unit.code), start=1)), "unit_lineage": unit_lineage(unit),
    })
