"""Dollar cost of a model call from its token counts, so a run can be held to a budget.

List prices in US dollars per million tokens (input, output), as published by the providers for the
models listed; a deployment adds or corrects models through `DesignerConfig.prices`. A name matches
a listed model exactly or as a dated snapshot of it (`claude-sonnet-4-5-20250929`, `gpt-4.1-2025-04-14`).

A model that matches nothing costs nothing on an OpenAI-compatible endpoint (a local vLLM, llama.cpp
or Ollama model); on Anthropic's or OpenAI's API it is charged at `UNKNOWN_REMOTE_PRICE`, on the high
side on purpose, so that a budget stops a run early rather than late. Either way it is reported as
unpriced.
"""

from __future__ import annotations

import re

LIST_PRICES: dict[str, tuple[float, float]] = {
    # Anthropic
    "claude-fable-5-2": (8.0, 40.0),
    "claude-fable-5-1": (10.0, 50.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-sonnet-5-5": (2.0, 10.0),
    "claude-sonnet-5": (2.0, 10.0),
    "claude-opus-4-7": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0),
    "claude-sonnet-4-6": (3.0, 15.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    # OpenAI
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.4),
    "o4-mini": (1.1, 4.4),
    "o3": (2.0, 8.0),
    "o3-mini": (1.1, 4.4),
    "o1": (15.0, 60.0),
    "o1-mini": (1.1, 4.4),
}
UNKNOWN_REMOTE_PRICE = (15.0, 75.0)
SNAPSHOT = re.compile(r"^-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


def price_per_mtok(model: str, overrides: dict[str, tuple[float, float]] | None = None) -> tuple[float, float] | None:
    """(input, output) dollars per million tokens, or None for a model not on the list."""
    for table in (overrides or {}, LIST_PRICES):
        if model in table:
            return table[model]
        for name, price in table.items():
            if model.startswith(name) and SNAPSHOT.match(model[len(name):]):
                return price
    return None


def call_cost(model: str, tokens_in: int, tokens_out: int, overrides: dict[str, tuple[float, float]] | None = None,
              unknown: tuple[float, float] | None = None) -> float:
    """Dollars for one call; `unknown` is the price of an unlisted model (None: free)."""
    price = price_per_mtok(model, overrides) or unknown
    if price is None:
        return 0.0
    return (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000
