"""Load the seed designs (the paper's five human-designed blocks) as generation 0.

Seeds are trusted code from this repository, so they enter the tree even without the checker;
when it is installed its report is stored with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from evolution.models import Design
from evolution.services.checks import checker_available, run_checker
from evolution.services.designs import create_design
from verifier.core.seeds import available_seeds, load_seed


@dataclass
class SeedOutcome:
    name: str
    design: Design
    created: bool
    note: str = ""


def seed_designs(names: list[str] | None = None, check: bool = True) -> list[SeedOutcome]:
    """Create the missing seed designs; a seed already in the tree is left as it is (idempotent)."""
    outcomes: list[SeedOutcome] = []
    run_check = check and checker_available()
    for name in names or available_seeds():
        tree = load_seed(name)
        existing = Design.objects.filter(name=name, origin_kind=Design.OriginKind.SEED).first()
        if existing is not None:
            note = "" if existing.tree_hash == tree.content_hash() else "changed on disk; stored version kept"
            outcomes.append(SeedOutcome(name, existing, False, note))
            continue
        report = run_checker(tree) if run_check else None
        passed = report is None or report.get("passed", False)
        design = create_design(
            tree=tree,
            name=name,
            origin_kind=Design.OriginKind.SEED,
            origin={"kind": "seed", "seed": name},
            mode="seed",
            status=Design.Status.CHECKED if passed else Design.Status.INVALID,
            summary=str(tree.metadata.get("description", ""))[:2000],
            is_seed=passed,  # the seed-and-parent rule: an invalid design is not built on
            check_report=report,
        )
        note = "checked" if report is not None else "not checked (checker absent or --no-check)"
        if report is not None and not passed:
            note = "FAILED the checker: stored as invalid, not in the seed population"
        outcomes.append(SeedOutcome(name, design, True, note))
    return outcomes
