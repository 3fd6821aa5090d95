"""Designer settings, editable in the web app and the admin: which provider and model play each role,
the limits of a run, its dollar budget and the ablation. `manage.py design` and the evolution loop's
design jobs both run with the saved settings (`designer.services.designer_config`).

Keys are never stored: a provider is given the *name* of the environment variable that holds its key.
Only key variables may be named (`KEY_ENV_ALLOWED`, `KEY_ENV_PATTERN`): a name like DATABASE_URL or
SECRET_KEY would send the server's own secrets to whatever base URL the provider points at.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from designer.core.ablations import VARIANTS, variant
from designer.core.config import (
    DEFAULT_KEY_ENV,
    DEFAULT_MODELS,
    ROLES,
    DesignerConfig,
    Limits,
    ProviderSettings,
    RoleSettings,
)
from designer.core.prompts import DEFAULT_VERSION

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# What API keys tend to start with: refuse them in a field meant for a variable's name.
KEY_PREFIXES = ("sk-", "sk_", "xai-", "gsk_", "hf_", "AIza")


KEY_ENV_ALLOWED = frozenset({"ANTHROPIC_API_KEY", "OPENAI_API_KEY"})
KEY_ENV_PATTERN = re.compile(r"^GENESYS_LLM_[A-Z0-9_]+_KEY$")


def key_env_allowed(value: str) -> bool:
    return value in KEY_ENV_ALLOWED or bool(KEY_ENV_PATTERN.match(value))


def validate_env_name(value: str) -> None:
    if value.startswith(KEY_PREFIXES):
        raise ValidationError("This looks like an API key. Enter the name of the environment variable that holds it.")
    if value and not ENV_NAME.match(value):
        raise ValidationError("Enter an environment variable name (capital letters, digits and underscores).")
    if value and not key_env_allowed(value):
        raise ValidationError(
            f"{value} is not a key variable: use ANTHROPIC_API_KEY, OPENAI_API_KEY or GENESYS_LLM_<NAME>_KEY.")


class DesignerSettings(models.Model):
    class Provider(models.TextChoices):
        ANTHROPIC = "anthropic", "Anthropic"
        OPENAI = "openai", "OpenAI"
        COMPATIBLE = "compatible", "OpenAI-compatible endpoint (vLLM, llama.cpp, Ollama)"

    name = models.SlugField(max_length=64, unique=True, default="default")
    default_provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.ANTHROPIC)

    anthropic_base_url = models.URLField(blank=True, help_text="Empty: api.anthropic.com.")
    anthropic_key_env = models.CharField(max_length=64, default=DEFAULT_KEY_ENV["anthropic"],
                                         validators=[validate_env_name])
    openai_base_url = models.URLField(blank=True, help_text="Empty: api.openai.com.")
    openai_key_env = models.CharField(max_length=64, default=DEFAULT_KEY_ENV["openai"], validators=[validate_env_name])
    compatible_base_url = models.URLField(blank=True, help_text="e.g. http://127.0.0.1:8000/v1 for a vLLM server.")
    compatible_key_env = models.CharField(max_length=64, default=DEFAULT_KEY_ENV["compatible"],
                                          validators=[validate_env_name], help_text="Often not needed locally.")

    proposer_model = models.CharField(max_length=128, blank=True, default=DEFAULT_MODELS["anthropic"])
    proposer_provider = models.CharField(max_length=16, choices=Provider.choices, blank=True,
                                         help_text="Empty: the default provider.")
    reviewer_model = models.CharField(max_length=128, blank=True, default=DEFAULT_MODELS["anthropic"])
    reviewer_provider = models.CharField(max_length=16, choices=Provider.choices, blank=True)
    planner_model = models.CharField(max_length=128, blank=True, default=DEFAULT_MODELS["anthropic"])
    planner_provider = models.CharField(max_length=16, choices=Provider.choices, blank=True)
    coder_model = models.CharField(max_length=128, blank=True, default=DEFAULT_MODELS["anthropic"])
    coder_provider = models.CharField(max_length=16, choices=Provider.choices, blank=True)
    observer_model = models.CharField(max_length=128, blank=True, default=DEFAULT_MODELS["anthropic"])
    observer_provider = models.CharField(max_length=16, choices=Provider.choices, blank=True)
    use_observer = models.BooleanField(default=True)
    ablation = models.CharField(max_length=32, default="full", choices=[(name, name.replace("_", " ")) for name in VARIANTS],
                                help_text="The paper's Table 4: which parts of the pipeline run (full: all of them).")

    proposal_threshold = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1)])
    max_proposal_attempts = models.PositiveSmallIntegerField(default=10, validators=[MinValueValidator(1)])
    observer_threshold = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    max_debug_attempts = models.PositiveSmallIntegerField(default=7)
    max_failed_rounds = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    run_budget_dollars = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("5.00"),
                                             validators=[MinValueValidator(Decimal("0"))])
    implementation_budget_dollars = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("2.00"),
                                                        validators=[MinValueValidator(Decimal("0"))])
    request_timeout_s = models.FloatField(default=120.0, validators=[MinValueValidator(1.0)])
    max_retries = models.PositiveSmallIntegerField(default=4)
    prompt_version = models.CharField(max_length=32, default=DEFAULT_VERSION)
    knowledge_path = models.CharField(max_length=500, blank=True, help_text="Knowledge base folder for references.")

    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = "designer settings"
        verbose_name_plural = "designer settings"

    def __str__(self) -> str:
        return f"designer settings ({self.name})"

    def clean(self) -> None:
        from designer.core.prompts import available_versions

        if self.prompt_version not in available_versions():
            raise ValidationError({"prompt_version": f"Unknown prompt version; have {', '.join(available_versions())}."})
        if self.implementation_budget_dollars > self.run_budget_dollars:
            raise ValidationError({"implementation_budget_dollars": "Cannot exceed the run budget."})

    def role_provider(self, role: str) -> str:
        return getattr(self, f"{role}_provider") or self.default_provider

    def provider_settings(self, kind: str) -> ProviderSettings:
        """A row saved around the validators (shell, raw SQL, an old database) with a name that is not a
        key variable falls back to the provider's default key variable, never to the named one."""
        key_env = getattr(self, f"{kind}_key_env")
        if not key_env_allowed(key_env):
            key_env = DEFAULT_KEY_ENV[kind]
        return ProviderSettings(kind=kind, base_url=getattr(self, f"{kind}_base_url"),
                                api_key_env=key_env, timeout_s=self.request_timeout_s,
                                max_retries=self.max_retries)

    def to_config(self, **overrides: object) -> DesignerConfig:
        """The framework-free configuration the pipeline runs with."""
        roles = {r: RoleSettings(model=getattr(self, f"{r}_model"), provider=self.role_provider(r)) for r in ROLES}
        kinds = {spec.provider for spec in roles.values()}
        config = DesignerConfig(
            roles=roles,
            providers={k: self.provider_settings(k) for k in kinds},
            limits=Limits(
                proposal_threshold=self.proposal_threshold, max_proposal_attempts=self.max_proposal_attempts,
                observer_threshold=self.observer_threshold, max_debug_attempts=self.max_debug_attempts,
                max_failed_rounds=self.max_failed_rounds, run_budget_dollars=float(self.run_budget_dollars),
                implementation_budget_dollars=float(self.implementation_budget_dollars),
            ),
            ablation=replace(variant(self.ablation), observer=variant(self.ablation).observer and self.use_observer),
            prompt_version=self.prompt_version,
            knowledge_path=self.knowledge_path,
        )
        for key, value in overrides.items():
            setattr(config, key, value)
        return config
