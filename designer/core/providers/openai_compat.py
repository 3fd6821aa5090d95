"""Adapter for OpenAI's Chat Completions API, and for any endpoint that speaks it (vLLM, llama.cpp
server, Ollama) when given a base URL, through the official `openai` SDK."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .base import MalformedReply, Message, Provider, RawReply


@dataclass
class OpenAICompatibleProvider(Provider):
    kind = "openai"

    @cached_property
    def client(self) -> Any:
        import openai

        return openai.OpenAI(
            # Local servers usually need no key, but the SDK insists on one.
            api_key=self.settings.api_key() or "no-key-configured",
            base_url=self.settings.base_url or None,
            timeout=self.settings.timeout_s,
            max_retries=0,
            http_client=self.http_client,
        )

    def _sdk_errors(self) -> tuple[type, type, type]:
        import openai

        return openai.APIStatusError, openai.APIConnectionError, openai.APIResponseValidationError

    def _send(self, messages: list[Message], *, model: str, system: str, max_tokens: int,
              temperature: float | None) -> RawReply:
        chat: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        chat += [{"role": m.role, "content": m.content} for m in messages]
        kwargs: dict[str, Any] = {"model": model, "messages": chat}
        # OpenAI's reasoning models take only max_completion_tokens; local servers know max_tokens.
        kwargs["max_completion_tokens" if self.settings.kind == "openai" else "max_tokens"] = max_tokens
        if temperature is not None:
            kwargs["temperature"] = temperature
        response = self.client.chat.completions.create(**kwargs)
        choices = getattr(response, "choices", None)
        if not choices:
            raise MalformedReply(f"{self.settings.kind} API sent a response without choices", retryable=True)
        choice = choices[0]
        text = getattr(getattr(choice, "message", None), "content", None) or ""
        usage = getattr(response, "usage", None)
        tokens_in = getattr(usage, "prompt_tokens", None)
        tokens_out = getattr(usage, "completion_tokens", None)
        if tokens_in is None or tokens_out is None:
            # Some local servers omit usage; a rough count keeps the record meaningful.
            tokens_in = sum(len(m["content"]) for m in chat) // 4
            tokens_out = len(text) // 4
        return RawReply(
            text=text,
            model=getattr(response, "model", "") or model,
            tokens_in=int(tokens_in),
            tokens_out=int(tokens_out),
            stop_reason=str(getattr(choice, "finish_reason", "") or ""),
            request_id=str(getattr(response, "id", "") or ""),
        )
