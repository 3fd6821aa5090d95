"""Django admin for every evolution model: the escape hatch for fixing data by hand.

Audit rows (decisions, annotations, events) are read-only here, so the audit log stays true.
"""

from __future__ import annotations

from django.contrib import admin

from evolution.models import (
    Annotation,
    CheckRun,
    Decision,
    Design,
    DesignParent,
    DesignRequest,
    DesignUnit,
    Event,
    EvolutionRun,
    Job,
    Unit,
    Upload,
    Verification,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DesignParentInline(admin.TabularInline):
    model = DesignParent
    fk_name = "child"
    extra = 0
    raw_id_fields = ("parent",)


class DesignUnitInline(admin.TabularInline):
    model = DesignUnit
    extra = 0
    raw_id_fields = ("unit",)


class VerificationInline(admin.TabularInline):
    model = Verification
    extra = 0
    fields = ("rung", "status", "fitness", "gpu_seconds", "finished_at")
    readonly_fields = ("finished_at",)


@admin.register(Design)
class DesignAdmin(admin.ModelAdmin):
    list_display = ("name", "generation", "origin_kind", "status", "verdict", "is_seed", "fitness", "confidence",
                    "created_at")
    list_filter = ("status", "verdict", "origin_kind", "is_seed", "generation")
    search_fields = ("name", "slug", "tree_hash", "summary")
    # is_seed only through decisions.make_seed (the design page, the API): the seed-and-parent rule
    # (evolution.core.eligibility) has no way around it here.
    readonly_fields = ("tree_hash", "is_seed", "created_at", "updated_at")
    raw_id_fields = ("created_by", "run")
    inlines = [DesignParentInline, DesignUnitInline, VerificationInline]
    list_per_page = 100


@admin.register(DesignParent)
class DesignParentAdmin(admin.ModelAdmin):
    list_display = ("child", "parent", "position")
    raw_id_fields = ("child", "parent")


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("name", "content_hash", "created_at")
    search_fields = ("name", "content_hash", "spec")
    readonly_fields = ("content_hash", "created_at")


@admin.register(DesignUnit)
class DesignUnitAdmin(admin.ModelAdmin):
    list_display = ("design", "name", "unit", "is_root", "position")
    search_fields = ("name", "design__name")
    raw_id_fields = ("design", "unit")


@admin.register(CheckRun)
class CheckRunAdmin(admin.ModelAdmin):
    list_display = ("id", "design", "passed", "sandbox", "created_by", "created_at")
    list_filter = ("passed",)
    raw_id_fields = ("design", "created_by")


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "filename", "source_kind", "status", "author", "design", "created_at")
    list_filter = ("status", "source_kind")
    raw_id_fields = ("author", "design", "check_run")


@admin.register(Verification)
class VerificationAdmin(admin.ModelAdmin):
    list_display = ("design", "rung", "status", "fitness", "gpu_seconds", "requested_by", "created_at", "finished_at")
    list_filter = ("rung", "status")
    search_fields = ("design__name",)
    raw_id_fields = ("design", "requested_by", "run")


@admin.register(EvolutionRun)
class EvolutionRunAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "budgets", "created_at")


@admin.register(DesignRequest)
class DesignRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "mode", "status", "requested_by", "created_at")
    list_filter = ("status", "mode")
    raw_id_fields = ("parents", "result", "requested_by")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "design", "attempts", "worker", "failure_category", "created_at",
                    "heartbeat_at", "finished_at")
    list_filter = ("kind", "status", "failure_category")
    raw_id_fields = ("run", "design", "verification")


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ("design", "author", "unit_name", "line", "created_at")
    search_fields = ("text", "design__name")


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("design", "kind", "actor", "rung", "created_at")
    list_filter = ("kind",)
    search_fields = ("design__name", "reason")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "design", "actor", "created_at")
    list_filter = ("kind",)
