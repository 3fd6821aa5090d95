"""The design page, and its raw artefacts (composed code, design JSON) for download."""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.utils.html import format_html
from django.views.decorators.http import require_GET

from evolution.selectors.design_page import composed_rows_html, design_page
from evolution.selectors.designs import get_design
from evolution.views.common import page
from genesys_site.permissions import viewer_required


@require_GET
@viewer_required
def design_detail(request, slug: str):
    design = get_design(slug)
    return page(request, "evolution/design.html", design_page(design))


@require_GET
@viewer_required
def design_composed(request, slug: str):
    """htmx partial: the composed module, highlighted (loaded when its section is opened)."""
    design = get_design(slug)
    rows = composed_rows_html(design.composed_code) if design.composed_code else ""
    return HttpResponse(format_html('<div class="code"><table>{}</table></div>', rows))


@require_GET
@viewer_required
def design_code(request, slug: str):
    design = get_design(slug)
    response = HttpResponse(design.composed_code, content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{design.slug}.py"'
    return response


@require_GET
@viewer_required
def design_json(request, slug: str):
    design = get_design(slug)
    response = HttpResponse(json.dumps(design.tree, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{design.slug}.json"'
    return response
