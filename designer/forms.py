"""The settings form of the designer page: the same fields as the admin, grouped for the page."""

from __future__ import annotations

from django import forms

from designer.models import DesignerSettings

PROVIDER_FIELDS = ("default_provider", "anthropic_base_url", "anthropic_key_env", "openai_base_url", "openai_key_env",
                   "compatible_base_url", "compatible_key_env", "request_timeout_s", "max_retries")
LIMIT_FIELDS = ("proposal_threshold", "max_proposal_attempts", "observer_threshold", "max_debug_attempts",
                "max_failed_rounds", "run_budget_dollars", "implementation_budget_dollars", "use_observer",
                "prompt_version", "knowledge_path")


class DesignerSettingsForm(forms.ModelForm):
    class Meta:
        model = DesignerSettings
        exclude = ("name", "updated_by")
