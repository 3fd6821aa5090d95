"""The seed-and-parent rule (`evolution.core.eligibility`) applied to design rows: a refusal is a
ValidationError with the rule's sentence, the same sentence the page shows instead of the button."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from evolution.core.eligibility import PARENT, SEED, DesignFacts, why_not
from evolution.models import Design

__all__ = ["PARENT", "SEED", "facts_of", "refusal", "require_usable"]


def facts_of(design: Design) -> DesignFacts:
    return DesignFacts(
        name=design.name, status=design.status, vetoed=design.verdict == Design.Verdict.VETOED,
        veto_reason=design.verdict_reason or "", has_tree=bool(design.tree), demo=design.is_demo,
    )


def refusal(design: Design, role: str) -> str | None:
    """Why `design` cannot become a `role` now (None: it can)."""
    return why_not(facts_of(design), role)


def require_usable(design: Design, role: str) -> None:
    """Raise the rule's refusal, if any, as a ValidationError (a 400 in the API, a message on a page,
    a CommandError in a management command)."""
    reason = refusal(design, role)
    if reason is not None:
        raise ValidationError(reason)
