"""Runs over the API: list them, start one from a preset and a settings diff, read one run's cost
ledger and lineage analytics (what the run page shows and `run_report` prints)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from evolution.core.loop_settings import PRESETS, SettingsError
from evolution.selectors.ledger import run_ledger
from evolution.selectors.lineage_stats import run_lineage
from evolution.selectors.run_page import get_run, run_rows
from evolution.services.runs import start_run
from genesys_site.permissions import SiteReadPermission


class StartRunSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    preset = serializers.ChoiceField(choices=list(PRESETS), default="full")
    diff = serializers.DictField(required=False, default=dict, help_text="LoopSettings fields to change")
    budgets = serializers.DictField(child=serializers.IntegerField(), required=False, default=dict,
                                    help_text="verifications per rung (default: this machine's)")
    notes = serializers.CharField(required=False, default="", allow_blank=True)


def _run_json(row: dict) -> dict:
    run = row["run"]
    return {"id": run.pk, "name": run.name, "is_active": run.is_active, "state": run.state, "preset": row["preset"],
            "diff": row["diff"], "designs": row["designs"], "budgets": run.budgets, "created_at": run.created_at}


class RunListView(APIView):
    permission_classes = [SiteReadPermission]

    @extend_schema(responses=inline_serializer("RunRow", {
        "id": serializers.IntegerField(), "name": serializers.CharField(), "is_active": serializers.BooleanField(),
        "state": serializers.CharField(), "preset": serializers.CharField(), "diff": serializers.DictField(),
        "designs": serializers.IntegerField(), "budgets": serializers.DictField(),
        "created_at": serializers.DateTimeField()}, many=True))
    def get(self, request):
        return Response([_run_json(r) for r in run_rows()])

    @extend_schema(request=StartRunSerializer, responses={201: inline_serializer("StartedRun", {
        "id": serializers.IntegerField(), "name": serializers.CharField()})})
    def post(self, request):
        data = StartRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            run = start_run(v["name"], v["preset"], v["diff"], v["budgets"] or None, v["notes"], user=request.user)
        except SettingsError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response({"id": run.pk, "name": run.name}, status=status.HTTP_201_CREATED)


class RunAnalyticsView(APIView):
    permission_classes = [SiteReadPermission]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        run = get_run(pk)
        return Response({"run": run.name, "cost": run_ledger(run), "lineage": run_lineage(run)})
