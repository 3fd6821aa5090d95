"""Which designs may become a seed or a parent: one rule for the pages (whether to offer the button),
the services (whether to do it), the API and the management commands, so nothing offered is refused
and nothing refused is reachable another way.

A seed or a parent is something designers build on, so it must be a real, implemented design that
passed the checker and that no researcher vetoed.
"""

from __future__ import annotations

from dataclasses import dataclass

SEED, PARENT = "seed", "parent"
ROLES = (SEED, PARENT)
USABLE = ("checked", "verifying", "verified")  # Design.Status values that passed the checker

# Why a status cannot be built on, in words.
STATUS_REASON = {
    "invalid": "it is invalid (it failed the checker)",
    "failed": "its implementation failed",
    "unchecked": "it was never checked (no checker ran on it)",
    "proposed": "it is only a proposal, not implemented yet",
    "implementing": "it is still being implemented",
}


@dataclass(frozen=True)
class DesignFacts:
    """What the rule needs to know about a design (read off its row, no query)."""

    name: str
    status: str
    vetoed: bool = False
    veto_reason: str = ""
    has_tree: bool = True
    demo: bool = False


def why_not(facts: DesignFacts, role: str) -> str | None:
    """None when the design may become a `role` (seed or parent); otherwise the full reason, in a
    sentence that names the design and the role ("X cannot be a seed: it is vetoed (…)")."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    reason = _reason(facts)
    return None if reason is None else f"{facts.name} cannot be a {role}: {reason}"


def _reason(facts: DesignFacts) -> str | None:
    if facts.vetoed:
        return "it is vetoed" + (f" (“{facts.veto_reason.strip()}”)" if facts.veto_reason.strip() else "")
    if facts.status not in USABLE:
        return STATUS_REASON.get(facts.status, f"its status is {facts.status or 'unknown'}")
    if not facts.has_tree:
        return "it has no GAU tree: the designers would have nothing to build on"
    if facts.demo:
        return "it is made up (demo history), not a real design"
    return None
