"""The REST API: designs, lineage, units, verifications, annotations, decisions and events.

Reads go through selectors and writes through the same services as the pages, so the API refuses
exactly what the pages refuse. Token authentication (`Authorization: Token …`) serves workers and
scripts; `manage.py drf_create_token <user>` issues a token.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from evolution.api import serializers as s
from evolution.api.pagination import StudioPagination
from evolution.models import Annotation, Decision, Design, Upload, Verification
from evolution.selectors.designs import design_list, with_relations
from evolution.selectors.events import events_after
from evolution.selectors.lineage import lineage_graph, matching_ids
from evolution.selectors.units import designs_using, unit_list
from evolution.services import annotations as annotation_service
from evolution.services import decisions, verifications
from evolution.services.checks import CheckerUnavailable
from evolution.services.intake import submit_design
from genesys_site.permissions import SiteReadPermission
from genesys_site.query_params import int_param

DESIGN_FILTERS = [
    OpenApiParameter("q", str, description="search names, unit names and statuses"),
    OpenApiParameter("status", str, description="comma-separated statuses"),
    OpenApiParameter("origin", str, description="seed, llm, gp or upload (comma-separated)"),
    OpenApiParameter("verdict", str, description="approved, vetoed, none or not_vetoed"),
    OpenApiParameter("generation_min", int), OpenApiParameter("generation_max", int),
    OpenApiParameter("rung", str, description="verified at this rung"),
    OpenApiParameter("seeds", bool, description="seed population only"),
    OpenApiParameter("min_fitness", float), OpenApiParameter("unit", str, description="unit name or hash prefix"),
    OpenApiParameter("ordering", str, description="fitness, -fitness, generation, -generation, name, newest"),
]


@contextmanager
def service_errors():
    """A service's ValidationError becomes a 400 with its messages (PermissionDenied is a 403 already)."""
    try:
        yield
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict if hasattr(exc, "message_dict") else exc.messages) from exc


class DesignViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    permission_classes = [SiteReadPermission]
    pagination_class = StudioPagination
    lookup_field = "slug"

    def get_queryset(self):
        if self.action == "list":
            return design_list(self.request.query_params, self.request.query_params.get("ordering", "")) \
                .prefetch_related("parent_links")
        return with_relations(Design.objects.select_related("created_by"))

    def get_serializer_class(self):
        if self.action == "create":
            return s.DesignUploadSerializer
        return s.DesignListSerializer if self.action == "list" else s.DesignDetailSerializer

    @extend_schema(parameters=DESIGN_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.DesignUploadSerializer, responses={
        202: s.UploadSerializer, 400: OpenApiTypes.OBJECT, 409: s.UploadSerializer,
        503: OpenApiTypes.OBJECT})
    def create(self, request, *args, **kwargs):
        """Seed a design: 202 with the upload, CHECKING until a worker's checker decides (poll
        /api/uploads/{id}/ or listen for `upload.checked`); it enters the tree only if it passes."""
        data = s.DesignUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        upload_file = v.get("file")
        text = v.get("text") or (json.dumps(v["tree"]) if v.get("tree") else "")
        try:
            upload = submit_design(request.user, filename=upload_file.name if upload_file else "",
                                   data=upload_file.read() if upload_file else None, text=text, name=v.get("name", ""))
        except CheckerUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        code = {Upload.Status.UNREADABLE: 400, Upload.Status.DUPLICATE: 409}.get(upload.status, 202)
        return Response(s.UploadSerializer(upload).data, status=code)

    def _decision(self, request, fn):
        design = self.get_object()
        reason = str(request.data.get("reason", ""))
        with service_errors():
            decision = fn(design, request.user, reason)
        return Response(s.DecisionSerializer(decision).data)

    @extend_schema(request=inline_serializer("Reason", {"reason": serializers.CharField(required=False)}),
                   responses=s.DecisionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, slug=None):
        return self._decision(request, decisions.approve)

    @extend_schema(request=inline_serializer("VetoReason", {"reason": serializers.CharField()}),
                   responses=s.DecisionSerializer)
    @action(detail=True, methods=["post"])
    def veto(self, request, slug=None):
        return self._decision(request, decisions.veto)

    @extend_schema(request=s.PromoteSerializer, responses={200: s.VerificationSerializer, 201: s.VerificationSerializer})
    @action(detail=True, methods=["post"])
    def promote(self, request, slug=None):
        """Queue a verification at the next rung; idempotent (a repeat returns the queued one, 200)."""
        design = self.get_object()
        with service_errors():
            verification, created = verifications.promote(design, request.user, request.data.get("rung") or None)
        return Response(s.VerificationSerializer(verification).data, status=201 if created else 200)

    @extend_schema(responses=s.DesignListSerializer(many=True))
    @action(detail=True, methods=["get"])
    def lineage(self, request, slug=None):
        """The design's parents and children."""
        design = self.get_object()
        parents = Design.objects.filter(child_links__child=design).prefetch_related("parent_links")
        children = Design.objects.filter(parent_links__parent=design).prefetch_related("parent_links")
        return Response({
            "parents": s.DesignListSerializer(parents, many=True).data,
            "children": s.DesignListSerializer(children, many=True).data,
        })


@extend_schema_view(retrieve=extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)]))
class UploadViewSet(viewsets.ReadOnlyModelViewSet):
    """The signed-in user's own uploads (an admin sees all), newest first."""

    permission_classes = [IsAuthenticated]
    pagination_class = StudioPagination
    serializer_class = s.UploadSerializer

    def get_queryset(self):
        qs = Upload.objects.select_related("design", "check_run")
        user = self.request.user
        return qs if user.is_superuser else qs.filter(author=user)


class LineageView(APIView):
    """The whole evolution tree as compact columns with a server-computed layout."""

    permission_classes = [SiteReadPermission]
    pagination_class = StudioPagination

    @extend_schema(parameters=DESIGN_FILTERS[:-1], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response({**lineage_graph(), "matches": matching_ids(request.query_params)})


class UnitViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [SiteReadPermission]
    pagination_class = StudioPagination
    lookup_field = "content_hash"

    def get_queryset(self):
        qs = unit_list(self.request.query_params.get("q", ""))
        name = self.request.query_params.get("name")
        return qs.filter(name=name) if name else qs

    def get_serializer_class(self):
        return s.UnitSerializer if self.action == "list" else s.UnitDetailSerializer

    @extend_schema(parameters=[OpenApiParameter("q", str), OpenApiParameter("name", str)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=s.DesignListSerializer(many=True))
    @action(detail=True, methods=["get"])
    def designs(self, request, content_hash=None):
        """The designs that use this unit, best first."""
        page = self.paginate_queryset(designs_using(self.get_object()).prefetch_related("parent_links"))
        return self.get_paginated_response(s.DesignListSerializer(page, many=True).data)


class VerificationViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [SiteReadPermission]
    pagination_class = StudioPagination

    def get_queryset(self):
        qs = Verification.objects.select_related("design", "requested_by").order_by("id")
        p = self.request.query_params
        if p.get("rung"):
            qs = qs.filter(rung=p["rung"])
        if p.get("status"):
            qs = qs.filter(status__in=p["status"].split(","))
        if p.get("design"):
            qs = qs.filter(design__slug=p["design"])
        return qs

    def get_serializer_class(self):
        return s.VerificationSerializer if self.action == "list" else s.VerificationDetailSerializer

    @extend_schema(parameters=[OpenApiParameter("rung", str), OpenApiParameter("status", str),
                               OpenApiParameter("design", str, description="design slug")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=s.VerificationSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """A worker took the verification."""
        verification = verifications.start_verification(self.get_object(), request.user)
        return Response(s.VerificationSerializer(verification).data)

    @extend_schema(request=s.ReportSerializer, responses=s.VerificationDetailSerializer)
    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        """A worker reports the result (VerificationReport.to_dict()); updates the design's fitness."""
        body = s.ReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = body.validated_data["report"]
        if not isinstance(report, dict):
            raise ValidationError({"report": "expected a JSON object"})
        verification = verifications.record_report(self.get_object(), report, request.user,
                                                   failed=body.validated_data["failed"])
        return Response(s.VerificationDetailSerializer(verification).data)


class AnnotationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    permission_classes = [SiteReadPermission]
    pagination_class = StudioPagination
    serializer_class = s.AnnotationSerializer

    def get_queryset(self):
        qs = Annotation.objects.select_related("design", "author").order_by("id")
        design = self.request.query_params.get("design")
        return qs.filter(design__slug=design) if design else qs

    @extend_schema(parameters=[OpenApiParameter("design", str, description="design slug")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        d = serializer.validated_data
        with service_errors():
            serializer.instance = annotation_service.annotate(d["design"], self.request.user, d["text"],
                                                       d.get("unit_name", ""), d.get("line"))


class DecisionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The audit log of decisions; creating one calls the same service as the page's button."""

    permission_classes = [SiteReadPermission]
    pagination_class = StudioPagination
    serializer_class = s.DecisionSerializer

    def get_queryset(self):
        qs = Decision.objects.select_related("design", "actor").order_by("id")
        p = self.request.query_params
        if p.get("design"):
            qs = qs.filter(design__slug=p["design"])
        if p.get("kind"):
            qs = qs.filter(kind=p["kind"])
        return qs

    @extend_schema(parameters=[OpenApiParameter("design", str), OpenApiParameter("kind", str)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        d = serializer.validated_data
        design, kind, reason, user = d["design"], d["kind"], d.get("reason", ""), self.request.user
        with service_errors():
            if kind == Decision.Kind.APPROVE:
                decision = decisions.approve(design, user, reason)
            elif kind == Decision.Kind.VETO:
                decision = decisions.veto(design, user, reason)
            elif kind == Decision.Kind.SEED:
                decision = decisions.make_seed(design, user, reason)
            elif kind == Decision.Kind.PROMOTE:
                verification, _ = verifications.promote(design, user, d.get("rung") or None)
                decision = design.decisions.filter(kind=kind, rung=verification.rung).order_by("-id").first()
            else:
                decisions.use_as_parent(design, user, note=reason)
                decision = design.decisions.filter(kind=kind).order_by("-id").first()
        serializer.instance = decision


class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """Events in id order; poll with ?after=<last id seen>."""

    permission_classes = [SiteReadPermission]
    pagination_class = StudioPagination
    serializer_class = s.EventSerializer

    def get_queryset(self):
        p = self.request.query_params
        after, design = int_param(p, "after", lo=0, clamp=True), int_param(p, "design", lo=0, clamp=True)
        if (p.get("after") and after is None) or (p.get("design") and design is None):
            raise ValidationError("after and design are integer ids")
        return events_after(after, p.get("kind", ""), design)

    @extend_schema(parameters=[OpenApiParameter("after", int), OpenApiParameter("kind", str, description="prefix"),
                               OpenApiParameter("design", int)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

