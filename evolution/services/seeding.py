"""Load the seed designs (the paper's five human-designed blocks) as generation 0.

Seeds are code from this repository, so they enter the tree even without the checker, but only a
seed whose check ran and passed is "checked": without one (`--no-check`, or no checker here) it is
stored "unchecked", and the conductor queues its check before the loop uses it (evolution.services.loop).
"""

from __future__ import annotations

from dataclasses import dataclass

from evolution.models import Design
from evolution.services.checks import checker_available, run_checker
from evolution.services.designs import create_design
from verifier.core.seeds import available_seeds, load_seed

NOT_CHECKED = "stored without the checker; the conductor checks it before the loop uses it"


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
        if report is None:
            status = Design.Status.UNCHECKED
        else:
            status = Design.Status.CHECKED if report.get("passed") is True else Design.Status.INVALID
        design = create_design(
            tree=tree,
            name=name,
            origin_kind=Design.OriginKind.SEED,
            origin={"kind": "seed", "seed": name},
            mode="seed",
            status=status,
            summary=str(tree.metadata.get("description", ""))[:2000],
            is_seed=status != Design.Status.INVALID,  # the seed-and-parent rule: an invalid design is not built on
            check_report=report,
            failure="" if report is not None else NOT_CHECKED,
        )
        note = "checked" if report is not None else "not checked yet (checker absent or --no-check)"
        if status == Design.Status.INVALID:
            note = "FAILED the checker: stored as invalid, not in the seed population"
        outcomes.append(SeedOutcome(name, design, True, note))
    return outcomes
