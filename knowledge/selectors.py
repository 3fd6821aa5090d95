"""Reads for pages and the API: search, papers with their citation links, chunks in context, and which
designs cited which references (read lazily from the evolution app, which may not exist yet)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, Q, QuerySet
from django.urls import NoReverseMatch

from .core.external import ExternalPaper, ExternalSearchError, external_search
from .core.records import Hit, PaperRecord
from .core.rerank import RerankBudget
from .engine import knowledge_base
from .models import IngestJob, Paper

log = logging.getLogger(__name__)

KINDS = ("abstract", "fulltext", "code")


# ------------------------------------------------------------------------------------------------ search


def filters_from_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Search-form / query-string fields as a store filter: year_from, year_to, kind, paper_id, source."""
    filters: dict[str, Any] = {}
    years: list[dict[str, Any]] = []
    if str(params.get("year_from") or "").strip():
        years.append({"year": {"$gte": int(params["year_from"])}})
    if str(params.get("year_to") or "").strip():
        years.append({"year": {"$lte": int(params["year_to"])}})
    if len(years) == 1:
        filters.update(years[0])
    elif years:
        filters["$and"] = years
    for key in ("kind", "paper_id", "source"):
        value = str(params.get(key) or "").strip()
        if value:
            filters[key] = value
    return filters


def search(
    query: str, k: int = 10, filters: Mapping[str, Any] | None = None, method: str = "hybrid",
    max_per_paper: int | None = None, rerank: bool = False,
) -> list[Hit]:
    """Pass `rerank=may_rerank(user)`: the LLM reranker costs money, so it is off unless allowed."""
    return knowledge_base().search(query, k=k, filters=dict(filters or {}) or None, method=method,
                                   max_per_paper=max_per_paper, rerank=rerank)


def references_for(theme: str, parent_texts: list[str], k: int = 5, rerank: bool = False) -> list[Hit]:
    return knowledge_base().references_for(theme, parent_texts, k=k, rerank=rerank)


def _rerank_calls_per_hour() -> int:
    configured = getattr(settings, "GENESYS_RERANK_CALLS_PER_HOUR", None)
    if configured is None:
        configured = os.environ.get("GENESYS_RERANK_CALLS_PER_HOUR", DEFAULT_RERANK_CALLS_PER_HOUR)
    try:
        return int(configured)
    except (TypeError, ValueError):
        return 0


DEFAULT_RERANK_CALLS_PER_HOUR = 60
_rerank_budget: RerankBudget | None = None


def rerank_budget() -> RerankBudget:
    global _rerank_budget
    calls = _rerank_calls_per_hour()
    if _rerank_budget is None or _rerank_budget.calls != calls:
        _rerank_budget = RerankBudget(calls, window_s=3600.0)
    return _rerank_budget


def may_rerank(user: Any) -> bool:
    """Whether this search may call the LLM reranker: a signed-in user with calls left this hour
    (GENESYS_RERANK_CALLS_PER_HOUR, default 60; 0 turns it off). Spends one call when it says yes;
    anonymous visitors never spend LLM money."""
    if not getattr(user, "is_authenticated", False) or knowledge_base().reranker is None:
        return False
    return rerank_budget().spend(user.pk)


@dataclass
class ExternalResults:
    papers: list[ExternalPaper] = field(default_factory=list)
    error: str = ""
    offline: bool = False


def external(query: str, source: str = "all", limit: int = 10) -> ExternalResults:
    """arXiv / Semantic Scholar results, or the reason there are none (offline answers at once)."""
    from .core.external import OfflineError

    try:
        return ExternalResults(external_search(source).search(query, limit))
    except OfflineError as error:
        return ExternalResults(error=str(error), offline=True)
    except ExternalSearchError as error:
        return ExternalResults(error=str(error))


# ------------------------------------------------------------------------------------------------ papers


def papers(query: str = "", source: str = "") -> QuerySet[Paper]:
    rows = Paper.objects.annotate(
        n_builds_on=Count("outgoing_citations", distinct=True),
        n_built_upon_by=Count("incoming_citations", distinct=True),
    )
    if query:
        rows = rows.filter(Q(title__icontains=query) | Q(paper_id__icontains=query) | Q(abstract__icontains=query))
    if source:
        rows = rows.filter(source=source)
    return rows.order_by("paper_id")


@dataclass
class PaperPage:
    paper: Paper | PaperRecord
    builds_on: list[Paper]
    built_upon_by: list[Paper]
    designs: list[dict[str, Any]]
    chunks: list[Hit]
    in_database: bool


def paper_page(paper_id: str, chunk_limit: int = 400) -> PaperPage | None:
    """A paper with the papers it builds on, those building on it, its chunks and the designs citing it.

    Papers ingested by a script straight into the store have no row yet; they are shown from the catalog.
    """
    paper = Paper.objects.filter(paper_id=paper_id).first()
    kb = knowledge_base()

    def chunks() -> list[Hit]:
        return kb.chunks_of(paper_id)[:chunk_limit] if chunk_limit > 0 else []

    if paper is None:
        record = kb.paper(paper_id)
        if record is None:
            return None
        known = {p.paper_id: p for p in Paper.objects.filter(paper_id__in=record.cites)}
        builds_on = [known[c] for c in record.cites if c in known]
        built_upon_by = list(Paper.objects.filter(paper_id__in=[p.paper_id for p in kb.cited_by(paper_id)]))
        return PaperPage(record, builds_on, built_upon_by, designs_citing(paper_id), chunks(), False)
    return PaperPage(
        paper,
        list(paper.builds_on.order_by("-year", "paper_id")),
        list(paper.built_upon_by.order_by("-year", "paper_id")),
        designs_citing(paper_id),
        chunks(),
        True,
    )


@dataclass
class ChunkInContext:
    chunk: Hit
    context: list[Hit]
    paper: Paper | None


def chunk_in_context(chunk_id: str, before: int = 2, after: int = 2) -> ChunkInContext | None:
    kb = knowledge_base()
    chunk = kb.chunk(chunk_id)
    if chunk is None:
        return None
    return ChunkInContext(chunk, kb.context(chunk_id, before, after), Paper.objects.filter(paper_id=chunk.paper_id).first())


def job(job_id: int) -> IngestJob | None:
    return IngestJob.objects.filter(pk=job_id).select_related("paper").first()


def recent_jobs(limit: int = 10) -> QuerySet[IngestJob]:
    return IngestJob.objects.select_related("paper").order_by("-created_at")[:limit]


def store_stats() -> dict[str, int]:
    return knowledge_base().stats()


# -------------------------------------------------------------------------- designs and their references


def _design_model() -> Any:
    """The evolution app's Design model if it exists and has a `proposal` JSON field, else None."""
    try:
        model = apps.get_model("evolution", "Design")
    except LookupError:
        return None
    names = {f.name for f in model._meta.get_fields()}
    return model if "proposal" in names else None


def references_of(design: Any) -> list[dict[str, Any]]:
    """The references a design stored (`proposal["references"]`, and the design's own `references`
    list where the model has one), as dicts with at least `paper_id`, each paper once."""
    proposal = getattr(design, "proposal", None) or {}
    raw = list(proposal.get("references") or []) if isinstance(proposal, dict) else []
    extra = getattr(design, "references", None)
    if isinstance(extra, list):
        raw += extra
    refs: dict[str, dict[str, Any]] = {}
    for item in raw:
        if isinstance(item, str) and item:
            refs.setdefault(item, {"paper_id": item, "title": ""})
        elif isinstance(item, dict) and item.get("paper_id"):
            refs.setdefault(str(item["paper_id"]), item)
    return list(refs.values())


def _design_summary(design: Any) -> dict[str, Any]:
    try:
        url = design.get_absolute_url() if hasattr(design, "get_absolute_url") else ""
    except NoReverseMatch:  # the evolution pages are not mounted (e.g. in a test URLconf)
        url = ""
    return {"pk": design.pk, "name": str(getattr(design, "name", "") or design), "url": url}


def _designs() -> list[Any]:
    model = _design_model()
    if model is None:
        return []
    names = {f.name for f in model._meta.get_fields() if getattr(f, "concrete", False)}
    wanted = [f for f in ("id", "name", "slug", "proposal", "references") if f in names]
    try:
        with transaction.atomic():  # a missing table must not poison the caller's transaction
            return list(model.objects.only(*wanted).order_by("pk"))
    except DatabaseError as error:
        log.warning("cannot read evolution designs: %s", error)
        return []


def designs_citing(paper_id: str) -> list[dict[str, Any]]:
    return [_design_summary(d) for d in _designs() if any(r["paper_id"] == paper_id for r in references_of(d))]


def design_references() -> list[dict[str, Any]]:
    """Every design that stored references, with them (titles filled in from the paper table)."""
    rows = [(d, references_of(d)) for d in _designs()]
    rows = [(d, refs) for d, refs in rows if refs]
    titles = dict(Paper.objects.filter(paper_id__in={r["paper_id"] for _, refs in rows for r in refs})
                  .values_list("paper_id", "title"))
    return [
        {**_design_summary(d), "references": [
            {**r, "title": r.get("title") or titles.get(r["paper_id"], ""), "known": r["paper_id"] in titles}
            for r in refs
        ]}
        for d, refs in rows
    ]


def design_app_available() -> bool:
    return _design_model() is not None
