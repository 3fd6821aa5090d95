"""Seeds as the loop meets them once the conductor has checked them: stored unchecked, then checked
by the real checker. The checker is deterministic and slow, so each seed's report is computed once per
test session and applied through the same service a check job uses."""

from __future__ import annotations

from typing import Any

from evolution.models import Design
from evolution.services.checks import apply_check, run_checker
from evolution.services.seeding import seed_designs
from verifier.core.gau.tree import GAUTree

_REPORTS: dict[str, dict[str, Any]] = {}


def checked_seeds(names: list[str] | None = None) -> list[Design]:
    designs = [outcome.design for outcome in seed_designs(names, check=False)]
    for design in designs:
        if design.status != Design.Status.UNCHECKED:
            continue
        if design.tree_hash not in _REPORTS:
            _REPORTS[design.tree_hash] = run_checker(GAUTree.from_dict(design.tree))
        apply_check(design, _REPORTS[design.tree_hash])
        design.refresh_from_db()
    return designs
