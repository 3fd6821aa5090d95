"""REST API, mounted by the site at /api/knowledge/: search, references for a proposal, papers, chunks,
ingestion (upload -> job) and external search (503 with error "offline" when there is no network)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .core.documents import UnsupportedFile
from .core.filters import FilterError
from .permissions import CanIngest, CanRead
from .serializers import (
    ExternalPaperSerializer,
    HitSerializer,
    IngestJobSerializer,
    IngestUploadSerializer,
    PaperSerializer,
    ReferencesSerializer,
    SearchQuerySerializer,
)

SearchResponse = inline_serializer("KnowledgeSearchResponse", {
    "query": serializers.CharField(), "method": serializers.CharField(), "filters": serializers.JSONField(),
    "results": HitSerializer(many=True),
})


def _hits(hits: list[Any]) -> list[dict[str, Any]]:
    return [hit.to_dict() for hit in hits]


class SearchAPI(APIView):
    """Hybrid (dense + BM25, reciprocal rank fusion) search over the library's passages."""

    parser_classes = [JSONParser]
    permission_classes = [CanRead]

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchResponse)
    def get(self, request: Request) -> Response:
        return self._search(request.query_params)

    @extend_schema(request=SearchQuerySerializer, responses=SearchResponse)
    def post(self, request: Request) -> Response:
        return self._search(request.data)

    def _search(self, data: Any) -> Response:
        params = SearchQuerySerializer(data=data)
        params.is_valid(raise_exception=True)
        values = params.validated_data
        filters = selectors.filters_from_params(values)
        if values.get("filters"):
            filters.update(values["filters"])
        try:
            hits = selectors.search(values["q"], k=values["k"], filters=filters, method=values["method"],
                                    max_per_paper=values.get("max_per_paper"),
                                    rerank=selectors.may_rerank(self.request.user))
        except FilterError as error:
            return Response({"filters": [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"query": values["q"], "method": values["method"], "filters": filters, "results": _hits(hits)})


class ReferencesAPI(APIView):
    """The top references for a proposal's theme and its parent designs (what the proposer receives)."""

    parser_classes = [JSONParser]
    permission_classes = [CanRead]

    @extend_schema(request=ReferencesSerializer, responses=HitSerializer(many=True))
    def post(self, request: Request) -> Response:
        params = ReferencesSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        values = params.validated_data
        return Response(_hits(selectors.references_for(values["theme"], values["parent_texts"], values["k"],
                                                       rerank=selectors.may_rerank(request.user))))


class PaperListAPI(generics.ListAPIView):
    serializer_class = PaperSerializer
    permission_classes = [CanRead]

    def get_queryset(self) -> Any:
        return selectors.papers(self.request.query_params.get("q", ""), self.request.query_params.get("source", "")) \
            .prefetch_related("builds_on")


class PaperDetailAPI(APIView):
    permission_classes = [CanRead]

    @extend_schema(responses=inline_serializer("KnowledgePaperPage", {
        "paper": PaperSerializer(), "built_upon_by": serializers.ListField(child=serializers.CharField()),
        "designs": serializers.ListField(child=serializers.DictField()),
    }))
    def get(self, request: Request, paper_id: str) -> Response:
        page = selectors.paper_page(paper_id, chunk_limit=0)
        if page is None or not page.in_database:
            raise Http404(f"no paper {paper_id!r}")
        return Response({
            "paper": PaperSerializer(page.paper).data,
            "built_upon_by": [p.paper_id for p in page.built_upon_by],
            "designs": page.designs,
        })


class ChunkAPI(APIView):
    permission_classes = [CanRead]

    @extend_schema(responses=inline_serializer("KnowledgeChunk", {
        "chunk": HitSerializer(), "context": HitSerializer(many=True),
    }))
    def get(self, request: Request, chunk_id: str) -> Response:
        found = selectors.chunk_in_context(chunk_id)
        if found is None:
            raise Http404(f"no chunk {chunk_id!r}")
        return Response({"chunk": found.chunk.to_dict(), "context": _hits(found.context)})


class IngestAPI(APIView):
    """Upload a PDF, Markdown/text or Python file; answers 202 with the job to poll."""

    permission_classes = [CanIngest]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=IngestUploadSerializer, responses={202: IngestJobSerializer})
    def post(self, request: Request) -> Response:
        params = IngestUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        meta = {k: v for k, v in params.validated_data.items() if k != "file"}
        try:
            job = services.create_upload_job(params.validated_data["file"], meta, request.user)
        except UnsupportedFile as error:
            return Response({"file": [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
        services.start_ingest_job(job)
        job.refresh_from_db()
        return Response(IngestJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class IngestJobAPI(APIView):
    permission_classes = [CanRead]

    @extend_schema(responses=IngestJobSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.job(job_id)
        if job is None:
            raise Http404(f"no ingest job {job_id}")
        return Response(IngestJobSerializer(job).data)


class ExternalSearchAPI(APIView):
    permission_classes = [CanRead]

    """arXiv and Semantic Scholar; without a network: 503 {"error": "offline", ...} at once."""

    @extend_schema(
        parameters=[inline_serializer("KnowledgeExternalQuery", {
            "q": serializers.CharField(), "source": serializers.ChoiceField(choices=["all", "arxiv", "semantic_scholar"],
                                                                           default="all"),
            "limit": serializers.IntegerField(default=10, min_value=1, max_value=50),
        })],
        responses={200: ExternalPaperSerializer(many=True), 503: OpenApiResponse(description="offline")},
    )
    def get(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return Response({"q": ["This field is required."]}, status=status.HTTP_400_BAD_REQUEST)
        source = request.query_params.get("source", "all")
        if source not in {"all", "arxiv", "semantic_scholar"}:
            return Response({"source": ["all, arxiv or semantic_scholar"]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            limit = max(1, min(50, int(request.query_params.get("limit", 10))))
        except ValueError:
            return Response({"limit": ["an integer"]}, status=status.HTTP_400_BAD_REQUEST)
        found = selectors.external(query, source, limit)
        if found.offline:
            return Response({"error": "offline", "detail": found.error}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        if found.error:
            return Response({"error": "external", "detail": found.error}, status=status.HTTP_502_BAD_GATEWAY)
        return Response([p.to_dict() for p in found.papers])
