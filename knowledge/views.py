"""Pages: search the library, read a chunk in context, a paper with the papers it builds on, uploads
and their progress, and which designs cited which references. Views only call selectors and services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from genesys_site.permissions import viewer_required
from genesys_site.query_params import int_param

from . import selectors, services
from .core.documents import UnsupportedFile
from .core.filters import FilterError
from .forms import SearchForm, UploadForm
from .permissions import can_upload

RESULTS = 20
CONTEXT_MAX = 20  # chunks either side of the one shown


@viewer_required
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    context: dict = {"form": form, "hits": None, "external": None, "stats": selectors.store_stats(),
                     "can_upload": can_upload(request.user)}
    if form.is_bound and form.is_valid() and form.cleaned_data["q"].strip():
        data = form.cleaned_data
        try:
            context["hits"] = selectors.search(
                data["q"], k=RESULTS, filters=selectors.filters_from_params(data),
                method=data["method"] or "hybrid", max_per_paper=1 if data["one_per_paper"] else None,
                rerank=selectors.may_rerank(request.user),
            )
        except FilterError as error:
            form.add_error(None, str(error))
        if data["external"]:
            context["external"] = selectors.external(data["q"])
    template = "knowledge/_results.html" if request.htmx else "knowledge/search.html"
    return render(request, template, context)


@viewer_required
def paper_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    source = request.GET.get("source", "").strip()
    return render(request, "knowledge/paper_list.html", {
        "papers": selectors.papers(query, source), "q": query, "source": source,
        "can_upload": can_upload(request.user),
    })


@viewer_required
def paper_detail(request: HttpRequest, paper_id: str) -> HttpResponse:
    page = selectors.paper_page(paper_id)
    if page is None:
        raise Http404(f"no paper {paper_id!r}")
    sections: list[tuple[str, list]] = []
    for chunk in page.chunks:
        label = "Abstract" if chunk.kind == "abstract" else (chunk.section or "—")
        if not sections or sections[-1][0] != label:
            sections.append((label, []))
        sections[-1][1].append(chunk)
    return render(request, "knowledge/paper_detail.html", {
        "page": page, "paper": page.paper, "sections": sections,
        "design_app": selectors.design_app_available(),
    })


@viewer_required
def chunk_detail(request: HttpRequest, chunk_id: str) -> HttpResponse:
    found = selectors.chunk_in_context(
        chunk_id, before=int_param(request.GET, "before", 2, lo=0, hi=CONTEXT_MAX, clamp=True) or 0,
        after=int_param(request.GET, "after", 2, lo=0, hi=CONTEXT_MAX, clamp=True) or 0)
    if found is None:
        raise Http404(f"no chunk {chunk_id!r}")
    return render(request, "knowledge/chunk_detail.html", {"found": found, "chunk": found.chunk})


@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not can_upload(request.user):
        raise PermissionDenied("Adding papers needs the researcher or admin role.")
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        meta = {k: v for k, v in form.cleaned_data.items() if k != "file"}
        try:
            job = services.create_upload_job(form.cleaned_data["file"], meta, request.user)
        except UnsupportedFile as error:
            form.add_error("file", str(error))
        else:
            services.start_ingest_job(job)
            messages.info(request, f"Ingesting {job.filename}.")
            return redirect(job.get_absolute_url())
    return render(request, "knowledge/upload.html", {"form": form, "jobs": selectors.recent_jobs()})


@viewer_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.job(job_id)
    if job is None:
        raise Http404(f"no ingest job {job_id}")
    template = "knowledge/_job_status.html" if request.htmx else "knowledge/job_detail.html"
    return render(request, template, {"job": job})


@viewer_required
def design_references(request: HttpRequest) -> HttpResponse:
    return render(request, "knowledge/design_references.html", {
        "rows": selectors.design_references(), "design_app": selectors.design_app_available(),
    })
