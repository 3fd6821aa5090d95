"""The genetic-programming designer: no LLM, just mutation and crossover over units of the evolution
tree (verifier.core.gau.operators), behind the same interface as the LLM designer.

It is what runs when no provider is configured, and it is the baseline the agents must beat.
"""

from __future__ import annotations

import random
from typing import Any

from verifier.core.gau import operators as like_for_like_operators
from verifier.core.gau.operators import OperatorError
from verifier.core.gau.tree import GAUTree

from .checking import CheckerUnavailable, CheckFn, run_check
from .design_edits import lines_of_code
from .result import DesignerResult


def gp_design(parents: list[GAUTree], mode: str, *, pool: list[GAUTree] | None = None,
              rng: random.Random | None = None, checker: CheckFn | None = None,
              reason: str = "", check: bool = True) -> DesignerResult:
    """One design by the GP operators; the result is checked as a whole when the checker is there."""
    rng = rng or random.Random()
    pool = [t for t in (pool if pool is not None else _seed_pool()) if t.name not in {p.name for p in parents}]
    origin: dict[str, Any] = {"kind": "gp", "operator": mode, "why": reason or "the GP designer was chosen"}
    result = DesignerResult(mode=mode, parents=[p.name for p in parents], origin=origin)
    try:
        child = _operate(parents, mode, pool, rng)
    except OperatorError as exc:
        result.failure = str(exc)
        return result
    result.tree = child
    result.name = child.name
    result.proposal = {
        "title": child.name,
        "motivation": "genetic-programming operator (no LLM)",
        "units": [{"name": child.metadata.get("target"), "new_name": child.metadata.get("donor"),
                   "change": f"{child.metadata.get('operator')} from {child.metadata.get('donor')}"}],
        "pseudocode": "", "expected_effect": "", "references": [], "base_parent": parents[0].name if parents else None,
    }
    new_units = [n for n in child.implemented() if not any(
        n in p.units and p.units[n].content_hash() == child.units[n].content_hash() for p in parents)]
    result.metrics = {"attempts": 0, "proposal_rounds": 0, "new_units": new_units,
                      "lines_of_code": sum(lines_of_code(child.units[n].code) for n in new_units)}
    if not check:
        return _unchecked(result, "the checker was switched off (checker ablation)")
    try:
        outcome = run_check(child, checker)
    except CheckerUnavailable as exc:
        return _unchecked(result, str(exc))
    result.check_report = outcome.report
    result.metrics["valid"] = outcome.passed
    result.status = "implemented" if outcome.passed else "failed"
    if not outcome.passed:
        result.failure = "the design failed the checker"
    return result


def _unchecked(result: DesignerResult, reason: str) -> DesignerResult:
    """The operators validated and composed the tree, but no checker judged it: never "implemented"."""
    result.status = "unchecked"
    result.failure = f"not checked: {reason}"
    result.metrics.update(valid=None, check_skipped=reason)
    return result


def _operate(parents: list[GAUTree], mode: str, pool: list[GAUTree], rng: random.Random,
             operators: Any = like_for_like_operators) -> GAUTree:
    """The operator choice; `operators` (a module with `crossover` and `random_mutation`) lets a
    benchmark run an older operator set through the same choice."""
    if mode == "crossover":
        child = parents[0]
        for other in parents[1:]:
            child = operators.crossover(child, other, rng)
        child.metadata["parents"] = [p.name for p in parents]
        return child
    if mode == "mutation":
        return operators.random_mutation(parents[0], pool, rng)
    if not pool:
        raise OperatorError("a design from scratch needs a pool of designs to draw from")
    start = rng.choice(pool)  # GP has no blank page: scratch mutates a random design of the pool
    others = [t for t in pool if t is not start]
    child = operators.random_mutation(start, others, rng)
    child.metadata["operator"] = "scratch"
    return child


def _seed_pool() -> list[GAUTree]:
    from verifier.core.seeds import available_seeds, load_seed

    return [load_seed(name) for name in available_seeds()]
