"""The agents' one door to their models: each call is checked against the budget, sent to the
role's provider, charged, and recorded for the design's trace.

A reply that does not parse goes back to the same model as a finding (`ask_parsed`), a few times,
before the step is given up; a malformed reply costs attempts, never the task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from .budget import Budget
from .config import DesignerConfig
from .parsing import ParseError
from .prompts import PromptSet
from .providers import Message, Provider, ProviderError, make_provider
from .result import Cost

T = TypeVar("T")


@dataclass
class CallRecord:
    """One model call as the trace stores it. `system` names the template; its text is in the prompt set."""

    role: str
    model: str
    system: str
    messages: list[dict[str, str]]
    reply: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    dollars: float = 0.0
    latency_s: float = 0.0
    attempts: int = 0
    parse_error: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Agents:
    config: DesignerConfig
    prompts: PromptSet
    budget: Budget
    providers: dict[str, Provider] = field(default_factory=dict)  # by role; built on first use
    http_client: Any = None
    calls: list[CallRecord] = field(default_factory=list)
    cost: Cost = field(default_factory=Cost)
    cost_by_role: dict[str, float] = field(default_factory=dict)
    tokens_by_role: dict[str, tuple[int, int]] = field(default_factory=dict)  # role -> (in, out)

    def provider(self, role: str) -> Provider:
        if role not in self.providers:
            self.providers[role] = make_provider(self.config.provider_for(role), self.config.prices, self.http_client)
        return self.providers[role]

    def ask(self, role: str, messages: list[Message], *, budget: Budget | None = None) -> CallRecord:
        """One call for `role`; raises BudgetExhausted before it, ProviderError for a failed call."""
        budget = budget or self.budget
        budget.ensure_available()
        spec = self.config.roles[role]
        record = CallRecord(role=role, model=spec.model, system=f"{role}_system",
                            messages=[{"role": m.role, "content": m.content} for m in messages])
        self.calls.append(record)
        try:
            completion = self.provider(role).complete(
                messages, model=spec.model, system=self.prompts.render(f"{role}_system"),
                max_tokens=spec.max_tokens, temperature=spec.temperature,
            )
        except ProviderError as exc:
            record.error, record.attempts = str(exc), exc.attempts
            raise
        record.reply = completion.text
        record.model = completion.model
        record.tokens_in, record.tokens_out = completion.tokens_in, completion.tokens_out
        record.dollars, record.latency_s, record.attempts = completion.dollars, completion.latency_s, completion.attempts
        budget.charge(completion.dollars)
        self.cost.add(Cost(completion.tokens_in, completion.tokens_out, completion.dollars, completion.latency_s))
        self.cost_by_role[role] = self.cost_by_role.get(role, 0.0) + completion.dollars
        spent_in, spent_out = self.tokens_by_role.get(role, (0, 0))
        self.tokens_by_role[role] = (spent_in + completion.tokens_in, spent_out + completion.tokens_out)
        return record

    def ask_parsed(self, role: str, messages: list[Message], parse: Callable[[str], T], *,
                   budget: Budget | None = None) -> tuple[T | None, list[CallRecord], str | None]:
        """Ask, parse; on a parse error send the error back and ask again, up to the limit.

        Returns (value or None, the calls made, the last parse error or None).
        """
        conversation = list(messages)
        made: list[CallRecord] = []
        for _ in range(1 + self.config.limits.max_parse_retries):
            record = self.ask(role, conversation, budget=budget)
            made.append(record)
            try:
                return parse(record.reply), made, None
            except ParseError as exc:
                record.parse_error = str(exc)
                conversation = [*messages, Message("assistant", record.reply or "(empty reply)"),
                                Message("user", self.prompts.render("format_error", error=exc))]
        return None, made, made[-1].parse_error
