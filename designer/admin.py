from django.contrib import admin
from django.db import models

from designer.models import DesignerSettings


@admin.register(DesignerSettings)
class DesignerSettingsAdmin(admin.ModelAdmin):
    list_display = ("name", "default_provider", "proposer_model", "coder_model", "run_budget_dollars", "updated_at")
    readonly_fields = ("updated_at", "updated_by")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("name", "default_provider", "prompt_version", "knowledge_path")}),
        ("Providers (keys are read from the named environment variables)", {"fields": (
            "anthropic_base_url", "anthropic_key_env", "openai_base_url", "openai_key_env",
            "compatible_base_url", "compatible_key_env", "request_timeout_s", "max_retries")}),
        ("Models per role", {"fields": (
            ("proposer_model", "proposer_provider"), ("reviewer_model", "reviewer_provider"),
            ("planner_model", "planner_provider"), ("coder_model", "coder_provider"),
            ("observer_model", "observer_provider"), "use_observer")}),
        ("Limits and budget", {"fields": (
            "proposal_threshold", "max_proposal_attempts", "observer_threshold", "max_debug_attempts",
            "max_failed_rounds", "run_budget_dollars", "implementation_budget_dollars")}),
        (None, {"fields": ("updated_at", "updated_by")}),
    )

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
