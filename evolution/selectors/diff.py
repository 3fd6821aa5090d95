"""The diff page: a design against each parent (or any design named with ?against=)."""

from __future__ import annotations

from dataclasses import dataclass

from evolution.core.diagram import unit_diagram
from evolution.core.treediff import REMOVED, TreeDiff, diff_trees
from evolution.models import Design
from verifier.core.gau.tree import GAUTree, TreeError


@dataclass
class Comparison:
    other: Design
    diff: TreeDiff | None
    old_diagram: dict | None
    new_diagram: dict | None
    error: str = ""


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
    return Comparison(other, diff, unit_diagram(old, old_states), unit_diagram(new, new_states))
