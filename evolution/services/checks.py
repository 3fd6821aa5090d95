"""Run the symbolic checker and keep its report.

The checker (`verifier.core.checker.run_checks`) runs the design's code in a sandboxed subprocess;
nothing here executes generated code. It is imported lazily: the site works without it, but an
upload cannot enter the tree until it is installed.
"""

from __future__ import annotations

from typing import Any

from evolution.models import CheckRun, Design
from verifier.core.gau.tree import GAUTree


class CheckerUnavailable(RuntimeError):
    """The checker is not installed, so untrusted code cannot be checked."""


def _run_checks():
    try:
        from verifier.core.checker import run_checks
    except ImportError as exc:
        raise CheckerUnavailable(f"the design checker is not installed on this server ({exc})") from exc
    return run_checks


def checker_available() -> bool:
    try:
        _run_checks()
    except CheckerUnavailable:
        return False
    return True


def run_checker(tree: GAUTree) -> dict[str, Any]:
    """The checker's report as JSON, with `passed` always present."""
    run_checks = _run_checks()
    try:
        report = run_checks(tree)
    except Exception as exc:  # noqa: BLE001 - a checker crash is a finding, not a server error
        if type(exc).__name__ == "SandboxUnavailable":
            raise CheckerUnavailable(f"the checker's sandbox does not work on this server: {exc}") from exc
        return {"passed": False, "findings": [
            {"category": "checker", "severity": "error", "unit": None, "line": None,
             "message": f"the checker itself failed: {type(exc).__name__}: {exc}"}
        ], "figures": {}}
    data = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    data["passed"] = bool(getattr(report, "passed", data.get("passed", False)))
    return data


def store_check(report: dict[str, Any], design: Design | None = None, user=None, tree_hash: str = "") -> CheckRun:
    sandbox = report.get("sandbox", "")
    if isinstance(sandbox, dict):
        sandbox = sandbox.get("kind") or sandbox.get("name") or "sandbox"
    return CheckRun.objects.create(
        design=design,
        tree_hash=tree_hash or (design.tree_hash if design else ""),
        passed=bool(report.get("passed")),
        report=report,
        sandbox=str(sandbox)[:100],
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
