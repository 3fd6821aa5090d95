"""`complete(prompt) -> text` callables for the reranker, built on the official SDKs.

Kept this small on purpose: the reranker needs one short answer, not the designer's budgeting and retry
machinery (the designer can pass its own provider as a callable instead). Configured by environment:

    GENESYS_RERANK_PROVIDER  anthropic | openai (default: whichever API key is set; none -> no reranker)
    GENESYS_RERANK_MODEL     model name (defaults below)
    GENESYS_RERANK_BASE_URL  an OpenAI-compatible server (vLLM, Ollama), optional

`http_client` is for tests and proxies: an `httpx2.Client` for the Anthropic SDK (which uses httpx2), an
`httpx.Client` for the OpenAI SDK.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

Complete = Callable[[str], str]

DEFAULT_MODELS = {"anthropic": "claude-haiku-4-5", "openai": "gpt-4o-mini"}
TIMEOUT_S = 30.0


def anthropic_complete(
    model: str = DEFAULT_MODELS["anthropic"],
    api_key: str | None = None,
    base_url: str | None = None,
    http_client: Any = None,
    max_tokens: int = 400,
) -> Complete:
    import anthropic

    client = anthropic.Anthropic(
        api_key=api_key or os.environ.get("ANTHROPIC_API_KEY") or "no-key-configured",
        base_url=base_url,
        timeout=TIMEOUT_S,
        max_retries=1,
        http_client=http_client,
    )

    def complete(prompt: str) -> str:
        response = client.messages.create(
            model=model, max_tokens=max_tokens, messages=[{"role": "user", "content": prompt}]
        )
        return "".join(getattr(block, "text", "") for block in response.content)

    return complete


def openai_complete(
    model: str = DEFAULT_MODELS["openai"],
    api_key: str | None = None,
    base_url: str | None = None,
    http_client: Any = None,
    max_tokens: int = 400,
) -> Complete:
    import openai

    client = openai.OpenAI(
        api_key=api_key or os.environ.get("OPENAI_API_KEY") or "no-key-configured",
        base_url=base_url,
        timeout=TIMEOUT_S,
        max_retries=1,
        http_client=http_client,
    )

    def complete(prompt: str) -> str:
        response = client.chat.completions.create(
            model=model, max_tokens=max_tokens, temperature=0, messages=[{"role": "user", "content": prompt}]
        )
        return response.choices[0].message.content or ""

    return complete


def complete_from_env(environ: dict[str, str] | None = None) -> Complete | None:
    """The configured provider's callable, or None when no provider is configured."""
    env = dict(os.environ if environ is None else environ)
    provider = env.get("GENESYS_RERANK_PROVIDER", "").strip().lower()
    base_url = env.get("GENESYS_RERANK_BASE_URL") or None
    if not provider:
        if env.get("ANTHROPIC_API_KEY"):
            provider = "anthropic"
        elif env.get("OPENAI_API_KEY") or base_url:
            provider = "openai"
        else:
            return None
    if provider in {"none", "off"}:
        return None
    if provider not in DEFAULT_MODELS:
        raise ValueError(f"GENESYS_RERANK_PROVIDER must be anthropic or openai, not {provider!r}")
    model = env.get("GENESYS_RERANK_MODEL") or DEFAULT_MODELS[provider]
    if provider == "anthropic":
        return anthropic_complete(model, env.get("ANTHROPIC_API_KEY"), base_url)
    return openai_complete(model, env.get("OPENAI_API_KEY"), base_url)
