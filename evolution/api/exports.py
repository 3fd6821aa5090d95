"""API downloads of a verified rung: the Hugging Face model folder (zip) and the reproducibility
bundle (tar.gz), the same files the design page offers."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from evolution.selectors.designs import get_design
from evolution.selectors.exports import done_verification
from evolution.services.exports import ExportUnavailable, export_file
from genesys_site.permissions import SiteReadPermission

KIND = OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=["hf", "bundle"],
                        description="hf: Hugging Face model folder (.zip: config.json with auto_map, modeling file, "
                                    "model.safetensors, tokenizer, generation_config.json, README.md model card); "
                                    "bundle: reproducibility bundle (.tar.gz; rerun with "
                                    "`python -m verifier.core verify --from-bundle B --out DIR`)")


class VerificationDownloadView(APIView):
    permission_classes = [SiteReadPermission]

    @extend_schema(
        operation_id="verification_download",
        summary="Download a verified rung as a Hugging Face model or a reproducibility bundle",
        parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH),
                    OpenApiParameter("rung", str, OpenApiParameter.PATH), KIND],
        responses={(200, "application/zip"): OpenApiTypes.BINARY,
                   (200, "application/gzip"): OpenApiTypes.BINARY,
                   404: OpenApiResponse(description="no finished verification, or its run folder cannot be exported")},
    )
    def get(self, request, slug: str, rung: str, kind: str):
        verification = done_verification(get_design(slug), rung)
        try:
            path = export_file(verification, kind, actor=request.user)
        except ExportUnavailable as exc:
            raise NotFound(str(exc)) from exc
        content_type = "application/zip" if path.suffix == ".zip" else "application/gzip"
        return FileResponse(path.open("rb"), as_attachment=True, filename=path.name, content_type=content_type)
