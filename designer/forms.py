"""The settings form of the designer page: the same fields as the admin, grouped for the page."""

from __future__ import annotations

from django import forms
from django.db import models

from designer.models import DesignerSettings

PROVIDER_FIELDS = ("default_provider", "anthropic_base_url", "anthropic_key_env", "openai_base_url", "openai_key_env",
                   "compatible_base_url", "compatible_key_env", "request_timeout_s", "max_retries")
LIMIT_FIELDS = ("proposal_threshold", "max_proposal_attempts", "observer_threshold", "max_debug_attempts",
                "max_failed_rounds", "run_budget_dollars", "implementation_budget_dollars", "use_observer", "ablation",
                "prompt_version", "knowledge_path")


def settings_formfield(field: models.Field, **kwargs):
    """Base URLs typed without a scheme are taken as https (Django 6's default, chosen now)."""
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class DesignerSettingsForm(forms.ModelForm):
    class Meta:
        model = DesignerSettings
        exclude = ("name", "updated_by")
        formfield_callback = settings_formfield
        # Units and proper names, which the model's field names cannot spell.
        labels = {
            "anthropic_base_url": "Anthropic base URL", "anthropic_key_env": "Anthropic key variable",
            "openai_base_url": "OpenAI base URL", "openai_key_env": "OpenAI key variable",
            "compatible_base_url": "OpenAI-compatible base URL", "compatible_key_env": "OpenAI-compatible key variable",
            "request_timeout_s": "Request timeout (s)", "max_retries": "Retries per request",
            "proposal_threshold": "Proposal pass score (1-5)", "max_proposal_attempts": "Proposal attempts",
            "observer_threshold": "Observer pass rating (1-5)", "max_debug_attempts": "Debug attempts per unit",
            "max_failed_rounds": "Failed rounds before giving up",
            "run_budget_dollars": "LLM budget per design ($)", "implementation_budget_dollars":
                "LLM budget for the implementation ($)",
            "use_observer": "Use the observer", "ablation": "Ablation (paper, Table 4)", "prompt_version": "Prompt version",
            "knowledge_path": "Knowledge base folder",
        }
