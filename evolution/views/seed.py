"""Seed a design: upload or paste it; a worker checks it in the sandbox before it enters the tree, and
the upload's page shows "checking" until the verdict arrives (live, by the `upload.checked` event)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods

from evolution.core import reports
from evolution.forms import SeedForm
from evolution.models import Upload
from evolution.selectors.uploads import check_job_of, source_lines
from evolution.services.checks import CheckerUnavailable, checker_available
from evolution.services.intake import submit_design
from evolution.views.common import page
from genesys_site.permissions import SEED, action_required
from genesys_site.query_params import int_param


@require_http_methods(["GET", "POST"])
@action_required(SEED)
def seed_page(request):
    form = SeedForm(request.POST, request.FILES) if request.method == "POST" else SeedForm(initial=_resubmit(request))
    status = 200
    unreadable = None
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data.get("file")
            try:
                result = submit_design(
                    request.user,
                    filename=upload.name if upload else (form.cleaned_data.get("filename") or ""),
                    data=upload.read() if upload else None,
                    text=form.cleaned_data.get("text") or "",
                    name=form.cleaned_data.get("name") or "",
                )
            except CheckerUnavailable as exc:
                form.add_error(None, str(exc))
                status = 503
            else:
                if result.status == Upload.Status.CHECKING:
                    messages.info(request, f"{result.name} is being checked; this page shows the verdict")
                    return redirect("evolution:upload", pk=result.pk)
                if result.status == Upload.Status.UNREADABLE and not upload:
                    # Pasted text that could not be read: show the form again with the text as it was,
                    # so it can be fixed rather than pasted again (the upload is kept in the list).
                    form.add_error("text", result.error)
                    unreadable, status = result, 400
                else:
                    return redirect("evolution:upload", pk=result.pk)
        else:
            status = 400
    uploads = Upload.objects.filter(author=request.user).select_related("design", "check_run")[:20]
    return page(request, "evolution/seed.html", {
        "form": form, "uploads": uploads, "checker_ready": checker_available(), "unreadable": unreadable,
        "lines": source_lines(unreadable) if unreadable is not None else [],
    }, status=status)


def _resubmit(request) -> dict:
    """?from=<upload id>: the form filled with an earlier upload of this user's, to fix and send again."""
    upload_id = int_param(request.GET, "from", lo=1)
    upload = Upload.objects.filter(author=request.user, pk=upload_id).first() if upload_id else None
    if upload is None or not (upload.source or upload.tree):
        return {}
    if upload.source:  # the text as sent, so an edit changes only what the author changes
        return {"text": upload.source, "name": upload.name, "filename": upload.filename}
    return {"text": json.dumps(upload.tree, indent=2), "name": upload.name}


@action_required(SEED)
def upload_detail(request, pk: int):
    """An upload and its checker report; visible to its author (and admins) only."""
    upload = get_object_or_404(Upload.objects.select_related("check_run", "design"), pk=pk)
    if upload.author_id != request.user.id and not request.user.is_superuser:
        return page(request, "evolution/upload.html", {"upload": None}, status=404)
    report = upload.check_run.report if upload.check_run else None
    editable = upload.source and upload.status != Upload.Status.ACCEPTED
    return page(request, "evolution/upload.html", {
        "lines": source_lines(upload),
        "edit_form": SeedForm(initial={"text": upload.source, "name": upload.name, "filename": upload.filename})
        if editable else None,
        "upload": upload, "check_job": check_job_of(upload) if upload.status == Upload.Status.CHECKING else None, "findings": reports.findings(report), "figures": reports.figures(report),
        "stages": reports.stages(report),
    })
