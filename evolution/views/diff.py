"""The diff page: GAU-tree diff against each parent, or against any design (?against=slug)."""

from __future__ import annotations

from django.views.decorators.http import require_GET

from evolution.models import Design
from evolution.selectors.designs import find_design, get_design, parents_of
from evolution.selectors.diff import compare, compare_suggestions
from evolution.views.common import page
from genesys_site.permissions import viewer_required


@require_GET
@viewer_required
def design_diff(request, slug: str):
    design = get_design(slug)
    parents = parents_of(design)
    against = request.GET.get("against", "").strip()
    error = ""
    others = parents
    if against:
        other = find_design(against)  # the name as the pages show it, or the slug
        if other is None:
            error, others = f"No design named {against!r}: type a design's name (or pick one from the list).", []
        else:
            others = [other]
    comparisons = [compare(design, other) for other in others]
    seeds = list(Design.objects.filter(is_seed=True).exclude(pk=design.pk).order_by("id")[:20])
    return page(request, "evolution/diff.html", {
        "design": design, "parents": parents, "comparisons": comparisons, "against": against, "seeds": seeds,
        "error": error, "suggestions": compare_suggestions(design),
    })
