"""API input validation and output shapes for search, references, papers, chunks and ingestion."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .core.filters import FilterError, validate
from .core.retrieval import METHODS
from .models import IngestJob, Paper


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=1000, help_text="The query.")
    k = serializers.IntegerField(min_value=1, max_value=100, default=10)
    method = serializers.ChoiceField(choices=list(METHODS), default="hybrid")
    year_from = serializers.IntegerField(required=False, min_value=1900, max_value=2100)
    year_to = serializers.IntegerField(required=False, min_value=1900, max_value=2100)
    kind = serializers.ChoiceField(choices=["abstract", "fulltext", "code"], required=False)
    paper_id = serializers.CharField(required=False, max_length=120)
    source = serializers.CharField(required=False, max_length=20)
    max_per_paper = serializers.IntegerField(required=False, min_value=1, max_value=50)
    filters = serializers.JSONField(
        required=False, help_text='Raw metadata filter (POST only), e.g. {"year": {"$gte": 2022}}.'
    )

    def validate_filters(self, value: Any) -> Any:
        try:
            validate(value)
        except FilterError as error:
            raise serializers.ValidationError(str(error)) from error
        return value


class ReferencesSerializer(serializers.Serializer):
    theme = serializers.CharField(max_length=5000)
    parent_texts = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False, default=list)
    k = serializers.IntegerField(min_value=1, max_value=50, default=5)


class HitSerializer(serializers.Serializer):
    chunk_id = serializers.CharField()
    text = serializers.CharField()
    score = serializers.FloatField()
    paper_id = serializers.CharField()
    title = serializers.CharField()
    authors = serializers.ListField(child=serializers.CharField())
    year = serializers.IntegerField(allow_null=True)
    section = serializers.CharField()
    citation = serializers.CharField()
    kind = serializers.CharField()
    source = serializers.CharField()
    chunk_index = serializers.IntegerField()
    ranks = serializers.DictField(child=serializers.IntegerField())


class PaperSerializer(serializers.ModelSerializer):
    citation = serializers.CharField(read_only=True)
    builds_on = serializers.SlugRelatedField(many=True, read_only=True, slug_field="paper_id")

    class Meta:
        model = Paper
        fields = ["paper_id", "title", "authors", "year", "venue", "url", "arxiv_id", "s2id", "abstract", "tldr",
                  "source", "citation_count", "citation", "builds_on"]


class IngestUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    title = serializers.CharField(required=False, allow_blank=True, max_length=500)
    authors = serializers.CharField(required=False, allow_blank=True, max_length=1000,
                                    help_text="Separated by semicolons.")
    year = serializers.IntegerField(required=False, min_value=1900, max_value=2100)
    venue = serializers.CharField(required=False, allow_blank=True, max_length=300)
    arxiv_id = serializers.CharField(required=False, allow_blank=True, max_length=40)
    s2id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    paper_id = serializers.SlugField(required=False, allow_blank=True, max_length=120)


class IngestJobSerializer(serializers.ModelSerializer):
    paper_id = serializers.CharField(source="paper.paper_id", default=None, read_only=True)
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = IngestJob
        fields = ["id", "kind", "status", "filename", "meta", "progress_done", "progress_total", "percent", "message",
                  "report", "error", "paper_id", "created_at", "started_at", "finished_at"]


class ExternalPaperSerializer(serializers.Serializer):
    title = serializers.CharField()
    authors = serializers.ListField(child=serializers.CharField())
    year = serializers.IntegerField(allow_null=True)
    abstract = serializers.CharField()
    url = serializers.CharField()
    source = serializers.CharField()
    arxiv_id = serializers.CharField()
    s2id = serializers.CharField()
    venue = serializers.CharField()
