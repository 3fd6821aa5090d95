"""Researcher decisions: approve, veto (with a reason), make a seed, use as a parent.

Each is a `Decision` row (the audit log) plus a flag on the design that lists can filter on, plus
an event. Repeating the same decision (a double click) adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from evolution.models import Decision, Design, DesignRequest
from evolution.services import eligibility
from evolution.services.eligibility import require_usable
from evolution.services.events import record_event
from evolution.services.runs import ensure_active_run
from genesys_site.permissions import DECIDE, SEED, require


def _latest(design: Design, kind: str) -> Decision | None:
    return design.decisions.filter(kind=kind).order_by("-created_at", "-id").first()


def _verdict(design: Design, user, kind: str, verdict: str, reason: str) -> Decision:
    require(user, DECIDE)
    reason = (reason or "").strip()
    with transaction.atomic():
        design = Design.objects.select_for_update().get(pk=design.pk)
        last = _latest(design, kind)
        if design.verdict == verdict and last is not None and last.reason == reason:
            return last
        decision = Decision.objects.create(design=design, actor=user, kind=kind, reason=reason)
        design.verdict = verdict
        design.verdict_reason = reason
        design.save(update_fields=["verdict", "verdict_reason", "updated_at"])
        record_event(f"design.{verdict}", {"decision": decision.id, "reason": reason, "verdict": verdict},
                     design=design, actor=user)
    return decision


def approve(design: Design, user, reason: str = "") -> Decision:
    return _verdict(design, user, Decision.Kind.APPROVE, Design.Verdict.APPROVED, reason)


def veto(design: Design, user, reason: str) -> Decision:
    """Veto a design: it stays in the tree, marked, and is not promoted or bred from."""
    if not (reason or "").strip():
        require(user, DECIDE)
        raise ValidationError({"reason": "a veto needs a reason"})
    return _verdict(design, user, Decision.Kind.VETO, Design.Verdict.VETOED, reason)


def make_seed(design: Design, user, reason: str = "") -> Decision:
    """Add a design to the seed population the designers start from (only a design the
    seed-and-parent rule accepts: checked, not vetoed, with a tree)."""
    require(user, SEED)
    with transaction.atomic():
        design = Design.objects.select_for_update().get(pk=design.pk)
        require_usable(design, eligibility.SEED)  # read under the lock: a veto racing this click wins
        if design.is_seed:
            last = _latest(design, Decision.Kind.SEED)
            if last is not None:
                return last
        decision = Decision.objects.create(design=design, actor=user, kind=Decision.Kind.SEED, reason=reason)
        design.is_seed = True
        design.save(update_fields=["is_seed", "updated_at"])
        record_event("design.seeded", {"decision": decision.id, "reason": reason}, design=design, actor=user)
    return decision


def use_as_parent(design: Design, user, co_parents: Sequence[Design] = (), note: str = "") -> DesignRequest:
    """Ask the run loop for a new design bred from this one (a mutation, or a crossover with others)."""
    require(user, SEED)
    others = [p for p in co_parents if p.pk != design.pk]
    mode = "crossover" if others else "mutation"
    with transaction.atomic():
        for parent in Design.objects.select_for_update().filter(pk__in=[design.pk, *[p.pk for p in others]]):
            require_usable(parent, eligibility.PARENT)
        request = DesignRequest.objects.create(run=ensure_active_run(), mode=mode, note=note.strip(),
                                               requested_by=user)
        request.parents.set([design, *others])
        decision = Decision.objects.create(
            design=design, actor=user, kind=Decision.Kind.PARENT, reason=note.strip(),
            details={"request": request.id, "mode": mode, "with": [p.name for p in others]},
        )
        record_event("design.parent_requested", {
            "request": request.id, "decision": decision.id, "mode": mode, "parents": [design.id, *[p.id for p in others]],
        }, design=design, actor=user)
    return request
