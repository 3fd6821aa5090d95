"""The diff page: a design against each parent (or any design named with ?against=)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evolution.core.diagram import unit_diagram
from evolution.core.treediff import REMOVED, TreeDiff, diff_trees
from evolution.models import Design, Verification
from verifier.core.gau.tree import GAUTree, TreeError


@dataclass
class Comparison:
    other: Design
    diff: TreeDiff | None
    old_diagram: dict | None
    new_diagram: dict | None
    error: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)  # rung by rung: before, after, change


def _tree(design: Design) -> GAUTree | None:
    try:
        return GAUTree.from_dict(design.tree) if design.tree else None
    except TreeError:
        return None


def compare(design: Design, other: Design) -> Comparison:
    new, old = _tree(design), _tree(other)
    if new is None or old is None:
        missing = design if new is None else other
        return Comparison(other, None, None, None, f"{missing.name} has no GAU tree to compare")
    diff = diff_trees(old, new)
    states = diff.states
    old_states = {n: (REMOVED if s == REMOVED else s) for n, s in states.items() if s != "added"}
    new_states = {n: s for n, s in states.items() if s != REMOVED}
    return Comparison(other, diff, unit_diagram(old, old_states), unit_diagram(new, new_states),
                      results=results(other, design))


def results(before: Design, after: Design) -> list[dict[str, Any]]:
    """What the change did, rung by rung where either design was verified: fitness, validation loss
    and non-embedding parameters before and after (None where a side was not verified there)."""
    rows = (Verification.objects.filter(design__in=[before, after], status=Verification.Status.DONE)
            .only("design_id", "rung", "rung_index", "fitness", "metrics").order_by("rung_index", "rung"))
    by_rung: dict[str, dict[int, Verification]] = {}
    for v in rows:
        by_rung.setdefault(v.rung, {})[v.design_id] = v
    out = []
    for rung, sides in by_rung.items():
        a, b = sides.get(before.id), sides.get(after.id)
        row: dict[str, Any] = {"rung": rung}
        for key, read in (("fitness", lambda v: v.fitness), ("loss", lambda v: (v.metrics or {}).get("final_loss")),
                          ("params", lambda v: (v.metrics or {}).get("params"))):
            x, y = (read(a) if a else None), (read(b) if b else None)
            row[key] = {"before": x, "after": y, "change": (y - x) if x is not None and y is not None else None}
        out.append(row)
    return out


def compare_suggestions(design: Design, limit: int = 60) -> list[Design]:
    """Designs worth comparing with: parents, children, seeds, then the fittest, each once."""
    picks: list[Design] = []
    queries = (
        Design.objects.filter(child_links__child=design),
        Design.objects.filter(parent_links__parent=design),
        Design.objects.filter(is_seed=True),
        Design.objects.filter(fitness__isnull=False).order_by("-fitness"),
    )
    seen = {design.id}
    for qs in queries:
        for d in qs.only("id", "name", "slug", "generation", "fitness")[:limit]:
            if d.id not in seen and len(picks) < limit:
                seen.add(d.id)
                picks.append(d)
    return picks
