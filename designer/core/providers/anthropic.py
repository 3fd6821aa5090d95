"""Adapter for Anthropic's Messages API through the official `anthropic` SDK."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .base import MalformedReply, Message, Provider, RawReply


@dataclass
class AnthropicProvider(Provider):
    kind = "anthropic"

    @cached_property
    def client(self) -> Any:
        import anthropic

        return anthropic.Anthropic(
            api_key=self.settings.api_key() or "no-key-configured",
            base_url=self.settings.base_url or None,
            timeout=self.settings.timeout_s,
            max_retries=0,
            http_client=self.http_client,
        )

    def _sdk_errors(self) -> tuple[type, type, type]:
        import anthropic

        return anthropic.APIStatusError, anthropic.APIConnectionError, anthropic.APIResponseValidationError

    def _send(self, messages: list[Message], *, model: str, system: str, max_tokens: int,
              temperature: float | None) -> RawReply:
        kwargs: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if system:
            kwargs["system"] = system
        if temperature is not None:
            kwargs["temperature"] = temperature
        response = self.client.messages.create(**kwargs)
        content = getattr(response, "content", None)
        usage = getattr(response, "usage", None)
        if not isinstance(content, list) or usage is None:
            raise MalformedReply("anthropic API sent a response without content or usage", retryable=True)
        text = "".join(getattr(block, "text", "") for block in content if getattr(block, "type", "") == "text")
        tokens_in = (usage.input_tokens or 0) + (getattr(usage, "cache_creation_input_tokens", 0) or 0) \
            + (getattr(usage, "cache_read_input_tokens", 0) or 0)
        return RawReply(
            text=text,
            model=getattr(response, "model", "") or model,
            tokens_in=tokens_in,
            tokens_out=usage.output_tokens or 0,
            stop_reason=str(getattr(response, "stop_reason", "") or ""),
            request_id=str(getattr(response, "id", "") or ""),
        )
