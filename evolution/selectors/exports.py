"""What an export of a verified rung reads from the database: the verification and the design's
lineage for the model card."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from evolution.models import Design, Verification
from evolution.selectors.designs import parents_of

MAX_ANCESTOR_GENERATIONS = 6


def done_verification(design: Design, rung: str) -> Verification:
    verification = design.verifications.filter(rung=rung).first()
    if verification is None or verification.status != Verification.Status.DONE:
        raise Http404(f"{design.name} has no finished verification at {rung}")
    return verification


def lineage_of(design: Design) -> dict[str, Any]:
    """Parents, how the design was made, and its ancestors (nearest first) up to a few generations."""
    parents = parents_of(design)
    ancestors: list[str] = []
    frontier, seen = parents, {design.id}
    for _ in range(MAX_ANCESTOR_GENERATIONS):
        nxt: list[Design] = []
        for d in frontier:
            if d.id not in seen:
                seen.add(d.id)
                ancestors.append(d.name)
                nxt.extend(parents_of(d))
        frontier = nxt
    out: dict[str, Any] = {"generation": design.generation, "origin": design.origin_kind}
    if design.mode:
        out["operator"] = design.mode
    if parents:
        out["parents"] = [p.name for p in parents]
    if ancestors:
        out["ancestors"] = ancestors
    return out
