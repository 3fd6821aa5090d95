"""The loop's designer pointed at recorded provider replies: the one test double, at the provider's
HTTP API (designer.core.replay_server), shared by the tests that run a real design job."""

from __future__ import annotations

from decimal import Decimal

from designer.core.config import ROLES
from designer.core.replay_server import ReplayServer
from designer.services import active_settings

KEY_ENV = "GENESYS_LLM_REPLAY_KEY"  # an allowed key name (designer.models)


def point_designer_at(server: ReplayServer) -> None:
    """Save designer settings whose every role talks to `server` (Anthropic's API, $1 budgets, no observer)."""
    settings = active_settings()
    settings.default_provider, settings.anthropic_base_url, settings.anthropic_key_env = (
        "anthropic", server.base_url, KEY_ENV)
    for role in ROLES:
        setattr(settings, f"{role}_model", "claude-opus-4-1")
        setattr(settings, f"{role}_provider", "")
    settings.run_budget_dollars = settings.implementation_budget_dollars = Decimal("1.00")
    settings.ablation, settings.max_retries = "no_observer", 0
    settings.save()
