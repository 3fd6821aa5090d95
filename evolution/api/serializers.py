"""API representations. Lists carry what a table needs; details carry everything the page shows."""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from evolution.core.intake import MAX_UPLOAD_BYTES
from evolution.models import Annotation, Decision, Design, Event, Unit, Upload, Verification
from evolution.services.eligibility import PARENT, SEED, refusal


class DesignListSerializer(serializers.ModelSerializer):
    parents = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Design
        fields = ["id", "name", "slug", "url", "generation", "parents", "status", "verdict", "is_seed",
                  "origin_kind", "fitness", "fitness_std", "confidence", "created_at"]
        read_only_fields = ["fitness", "fitness_std", "confidence"]

    def get_parents(self, obj: Design) -> list[int]:
        return [link.parent_id for link in obj.parent_links.all()]

    def get_url(self, obj: Design) -> str:
        return obj.get_absolute_url()


class DesignUnitSerializer(serializers.Serializer):
    name = serializers.CharField()
    is_root = serializers.BooleanField()
    content_hash = serializers.CharField(source="unit.content_hash")


class VerificationBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Verification
        fields = ["id", "rung", "seed", "status", "fitness", "fitness_stderr", "fitness_metric", "metrics",
                  "gpu_seconds", "finished_at"]
        read_only_fields = ["fitness", "fitness_stderr", "fitness_metric"]


class DesignDetailSerializer(DesignListSerializer):
    parent_names = serializers.SerializerMethodField()
    units = DesignUnitSerializer(source="unit_links", many=True, read_only=True)
    verifications = VerificationBriefSerializer(many=True, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    refusals = serializers.SerializerMethodField(
        help_text="why the design cannot become a seed or a parent now (null: it can); the rule the services apply")

    class Meta(DesignListSerializer.Meta):
        fields = DesignListSerializer.Meta.fields + [
            "refusals", "parent_names", "origin", "mode", "summary", "verdict_reason", "tree", "tree_hash", "root_unit",
            "outline", "composed_code", "units", "proposal", "review_rounds", "trace", "failure", "references",
            "designer_metrics", "tokens_in", "tokens_out", "cost_dollars", "designer_seconds", "gpu_seconds",
            "verifications", "created_by", "updated_at", "fingerprint", "clone_of",
        ]
        read_only_fields = [*DesignListSerializer.Meta.read_only_fields, "fingerprint", "clone_of"]

    @extend_schema_field({"type": "object", "properties": {"seed": {"type": "string", "nullable": True},
                                                            "parent": {"type": "string", "nullable": True}}})
    def get_refusals(self, obj: Design) -> dict[str, str | None]:
        return {role: refusal(obj, role) for role in (SEED, PARENT)}

    def get_parent_names(self, obj: Design) -> list[str]:
        return [link.parent.name for link in obj.parent_links.all()]


class DesignUploadSerializer(serializers.Serializer):
    """Seed a design through the API: a design JSON object, pasted source, or a file (multipart).

    The same size limit as the seed form (MAX_UPLOAD_BYTES), checked before the file is read."""

    tree = serializers.JSONField(required=False, help_text="a design JSON (GAUTree.to_dict())")
    text = serializers.CharField(required=False, max_length=MAX_UPLOAD_BYTES,
                                 help_text="a design JSON or single-file GAB as text")
    file = serializers.FileField(required=False, help_text=f".json, .py or .zip of unit files, at most "
                                                            f"{MAX_UPLOAD_BYTES // 1024} KiB")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)

    def validate_file(self, value):
        if value is not None and value.size > MAX_UPLOAD_BYTES:
            raise serializers.ValidationError(f"the file is larger than {MAX_UPLOAD_BYTES // 1024} KiB")
        return value

    def validate_tree(self, value):
        if value is not None and len(json.dumps(value)) > MAX_UPLOAD_BYTES:
            raise serializers.ValidationError(f"the design is larger than {MAX_UPLOAD_BYTES // 1024} KiB")
        return value

    def validate(self, attrs):
        given = [k for k in ("tree", "text", "file") if attrs.get(k)]
        if len(given) != 1:
            raise serializers.ValidationError("send exactly one of tree, text or file")
        return attrs


class UploadSerializer(serializers.ModelSerializer):
    """An upload and where its check stands: checking, then accepted (with the design), rejected
    (with the checker's findings), duplicate, unreadable or failed (with the reason)."""

    design = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    findings = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = ["id", "name", "filename", "source_kind", "status", "error", "error_line", "design", "findings",
                  "created_at"]

    def get_findings(self, obj: Upload) -> list[dict]:
        from evolution.core import reports

        return reports.findings(obj.check_run.report) if obj.check_run else []


class UnitSerializer(serializers.ModelSerializer):
    n_designs = serializers.IntegerField(read_only=True)
    best_fitness = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Unit
        fields = ["content_hash", "name", "spec", "args", "children", "n_designs", "best_fitness", "created_at"]


class UnitDetailSerializer(UnitSerializer):
    class Meta(UnitSerializer.Meta):
        fields = UnitSerializer.Meta.fields + ["code"]


class VerificationSerializer(serializers.ModelSerializer):
    design = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Verification
        fields = ["id", "design", "rung", "rung_index", "seed", "status", "fitness", "fitness_stderr", "fitness_metric",
                  "metrics", "gpu_seconds", "error", "requested_by", "created_at", "started_at", "finished_at"]
        read_only_fields = ["fitness", "fitness_stderr", "fitness_metric"]


class VerificationDetailSerializer(VerificationSerializer):
    class Meta(VerificationSerializer.Meta):
        fields = VerificationSerializer.Meta.fields + ["report"]


class ReportSerializer(serializers.Serializer):
    report = serializers.JSONField(help_text="VerificationReport.to_dict()")
    failed = serializers.BooleanField(required=False, default=False)


class PromoteSerializer(serializers.Serializer):
    rung = serializers.CharField(required=False, allow_blank=True, help_text="default: the next rung")


class AnnotationSerializer(serializers.ModelSerializer):
    design = serializers.SlugRelatedField(slug_field="slug", queryset=Design.objects.all())
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Annotation
        fields = ["id", "design", "author", "text", "unit_name", "line", "created_at"]
        read_only_fields = ["id", "author", "created_at"]


class DecisionSerializer(serializers.ModelSerializer):
    design = serializers.SlugRelatedField(slug_field="slug", queryset=Design.objects.all())
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Decision
        fields = ["id", "design", "actor", "kind", "reason", "rung", "details", "created_at"]
        read_only_fields = ["id", "actor", "details", "created_at"]


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Event
        fields = ["id", "kind", "payload", "design", "actor", "created_at"]
