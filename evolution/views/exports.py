"""Downloads of a verified rung from the design page: the Hugging Face model (.zip) and the
reproducibility bundle (.tar.gz)."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from django.views.decorators.http import require_GET

from evolution.selectors.designs import get_design
from evolution.selectors.exports import done_verification
from evolution.services.exports import ExportUnavailable, export_file
from genesys_site.permissions import viewer_required


@require_GET
@viewer_required
def verification_download(request, slug: str, rung: str, kind: str):
    verification = done_verification(get_design(slug), rung)
    try:
        path = export_file(verification, kind, actor=request.user)
    except ExportUnavailable as exc:
        return HttpResponse(f"Cannot export: {exc}", status=404, content_type="text/plain; charset=utf-8")
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)
