"""One interface to every LLM provider: messages in; text, token counts, cost and latency out.

Adapters only translate to and from their SDK (`_send`); retries with backoff on rate limits and
transient errors live here, once, so every provider behaves the same. The SDKs' own retries are
switched off so that each attempt is counted and its wait honours the server's Retry-After.
"""

from __future__ import annotations

import email.utils
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import ProviderSettings
from ..pricing import UNKNOWN_REMOTE_PRICE, call_cost, price_per_mtok

# Statuses worth another try: timeout, conflict, rate limit, server errors, Anthropic's "overloaded".
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass
class Message:
    role: str  # "user" | "assistant"
    content: str


@dataclass
class Completion:
    text: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    dollars: float = 0.0
    latency_s: float = 0.0
    attempts: int = 1
    stop_reason: str = ""
    priced: bool = True
    request_id: str = ""


@dataclass
class RawReply:
    """What an adapter extracts from its SDK's response."""

    text: str
    model: str
    tokens_in: int
    tokens_out: int
    stop_reason: str = ""
    request_id: str = ""


class ProviderError(RuntimeError):
    """A call that failed for good: after the retries, or at once for errors retrying cannot fix."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False, attempts: int = 1):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.attempts = attempts


class MalformedReply(ProviderError):
    """The provider answered, but not with a response its format allows."""


@dataclass
class Provider(ABC):
    settings: ProviderSettings
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    http_client: Any = None  # an httpx2.Client for the SDK (tests pass one with a mock transport)
    sleep: Callable[[float], None] = time.sleep

    kind = "base"

    def complete(self, messages: list[Message], *, model: str, system: str = "", max_tokens: int = 8192,
                 temperature: float | None = None) -> Completion:
        """Send the conversation; retry transient failures with exponential backoff and jitter."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                raw = self._send(messages, model=model, system=system, max_tokens=max_tokens,
                                 temperature=temperature)
                break
            except Exception as exc:  # noqa: BLE001 - every SDK error is classified below
                error = self._classify(exc)
                error.attempts = attempt
                if not error.retryable or attempt > self.settings.max_retries:
                    raise error from exc
                self.sleep(self._wait_s(attempt, exc))
        answered_by = raw.model or model
        priced = price_per_mtok(answered_by, self.prices) is not None or price_per_mtok(model, self.prices) is not None
        # A listed name as requested prices an unlisted snapshot in the reply; a paid API's unknown
        # model is charged on the high side so that the budget still bites.
        price_as = answered_by if price_per_mtok(answered_by, self.prices) else model
        unknown = None if self.settings.kind == "compatible" else UNKNOWN_REMOTE_PRICE
        return Completion(
            text=raw.text,
            model=answered_by,
            tokens_in=raw.tokens_in,
            tokens_out=raw.tokens_out,
            dollars=call_cost(price_as, raw.tokens_in, raw.tokens_out, self.prices, unknown),
            latency_s=time.monotonic() - started,
            attempts=attempt,
            stop_reason=raw.stop_reason,
            priced=priced,
            request_id=raw.request_id,
        )

    @abstractmethod
    def _send(self, messages: list[Message], *, model: str, system: str, max_tokens: int,
              temperature: float | None) -> RawReply:
        """One request through the SDK, no retries."""

    @abstractmethod
    def _sdk_errors(self) -> tuple[type, type, type]:
        """The SDK's (status error, connection error incl. timeouts, response validation error)."""

    def _classify(self, exc: Exception) -> ProviderError:
        status_error, connection_error, validation_error = self._sdk_errors()
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, status_error):
            status = getattr(exc, "status_code", None)
            detail = _error_detail(exc)
            return ProviderError(f"{self.kind} API error {status}: {detail}", status=status,
                                 retryable=status in RETRYABLE_STATUS)
        if isinstance(exc, connection_error):
            what = "timed out" if "timeout" in type(exc).__name__.lower() else "could not be reached"
            return ProviderError(f"{self.kind} API {what}: {exc}", retryable=True)
        if isinstance(exc, validation_error | ValueError | KeyError | TypeError | AttributeError):
            return MalformedReply(f"{self.kind} API sent a malformed response: {exc}", retryable=True)
        return ProviderError(f"{self.kind} call failed: {type(exc).__name__}: {exc}")

    def _wait_s(self, attempt: int, exc: Exception) -> float:
        """The server's Retry-After when it sends one, else exponential backoff with full jitter."""
        told = _retry_after_s(exc)
        if told is not None:
            return min(told, self.settings.backoff_max_s)
        ceiling = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def _error_detail(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", exc))


def _retry_after_s(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None
