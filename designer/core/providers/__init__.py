"""LLM providers behind one interface (`Provider.complete`), and the factory that picks an adapter."""

from __future__ import annotations

from typing import Any

from ..config import ProviderSettings
from .anthropic import AnthropicProvider
from .base import Completion, MalformedReply, Message, Provider, ProviderError
from .openai_compat import OpenAICompatibleProvider

__all__ = [
    "AnthropicProvider", "Completion", "MalformedReply", "Message", "OpenAICompatibleProvider", "Provider",
    "ProviderError", "make_provider",
]


def make_provider(settings: ProviderSettings, prices: dict[str, tuple[float, float]] | None = None,
                  http_client: Any = None) -> Provider:
    """The adapter for `settings.kind`: Anthropic, OpenAI, or an OpenAI-compatible base URL."""
    cls: type[Provider] = AnthropicProvider if settings.kind == "anthropic" else OpenAICompatibleProvider
    return cls(settings=settings, prices=dict(prices or {}), http_client=http_client)
