"""Run the symbolic checker for the evolution app and keep its report.

The checker runs the design's code in a sandboxed subprocess; nothing here executes generated code.
There is one wrapper around it, `designer.core.checking.run_check`, shared with the designer: the
same fail-closed meaning everywhere (a check that cannot run raises CheckerUnavailable; a crash is a
failed report with a `checker` finding; `passed` is true only when a check ran and passed).
"""

from __future__ import annotations

from typing import Any

from designer.core.checking import CheckerUnavailable, checker_available, run_check
from evolution.core.cpu_time import cpu_meter, reported_child_cpu
from evolution.models import CheckRun, Design
from evolution.services.clones import judge
from verifier.core.gau.tree import GAUTree

__all__ = ["CheckerUnavailable", "apply_check", "checker_available", "run_checker", "store_check"]


def run_checker(tree: GAUTree) -> dict[str, Any]:
    """The checker's report as JSON, with `passed` always present (true only if the check ran and passed).
    Raises CheckerUnavailable when the checker or its sandbox cannot run here. `cpu_seconds` is the CPU
    time the check took here and in its sandboxed child (the cost ledger's checker CPU)."""
    with cpu_meter() as spent:
        report = run_check(tree).report
    return {**report, "cpu_seconds": round(spent["cpu_seconds"] + reported_child_cpu(report), 3)}


def store_check(report: dict[str, Any], design: Design | None = None, user=None, tree_hash: str = "") -> CheckRun:
    sandbox = report.get("sandbox", "")
    if isinstance(sandbox, dict):
        sandbox = sandbox.get("kind") or sandbox.get("name") or "sandbox"
    return CheckRun.objects.create(
        design=design,
        tree_hash=tree_hash or (design.tree_hash if design else ""),
        passed=report.get("passed") is True,
        report=report,
        sandbox=str(sandbox)[:100],
        cpu_seconds=_seconds(report.get("cpu_seconds")),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else 0.0


def apply_check(design: Design, report: dict[str, Any]) -> bool:
    """Store a checker report on a stored design and set its status from it: "checked" only when the
    check ran and passed and the design is no functional clone of one already in the population
    (`clones`), else "invalid" with the reason. Returns whether it entered the population."""
    verdict = judge(report, exclude_id=design.id)
    store_check(verdict.report, design=design)
    passed = verdict.passed
    failure = "" if passed else (verdict.failure or str(report.get("error") or report.get("summary")
                                                        or "failed the checker"))[:4000]
    status = Design.Status.CHECKED if passed else Design.Status.INVALID
    changes: dict[str, Any] = {"status": status, "failure": failure, "fingerprint": verdict.fingerprint,
                               "clone_of": verdict.twin}
    if not passed:
        changes["is_seed"] = False  # the seed-and-parent rule: an invalid design is not built on
    Design.objects.filter(id=design.id).update(**changes)
    return passed
