"""The one wrapper around the symbolic checker (verifier.core.checker) for the designer and the
evolution app: run it, keep its report, and turn its findings into text a coder can act on.

Fail closed: a check that could not run (checker not importable, its sandbox unavailable) raises
`CheckerUnavailable`, so the caller stores the design as not checked, with that reason; a checker
that crashes on a design is a failed outcome with a `checker` finding. Only an outcome with
`passed` true came from a check that ran and passed.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier.core.gau.tree import GAUTree

CheckFn = Callable[..., Any]
CHECKER_CATEGORY = "checker"  # verifier.core.checker.categories.CHECKER: the check itself failed


class CheckerUnavailable(RuntimeError):
    """The checker (or its sandbox) cannot run here, so untrusted code cannot be checked."""


@dataclass
class CheckOutcome:
    passed: bool
    findings: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)  # CheckReport.to_dict(), "passed" always set

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f.get("severity") == "error"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f.get("severity") != "error"]


def load_checker(overrides: dict[str, Any] | None = None) -> CheckFn:
    """`run_checks`, with a `CheckConfig` built from `overrides` (e.g. fewer training steps) if given."""
    try:
        module = importlib.import_module("verifier.core.checker")
        run_checks, check_config = module.run_checks, module.CheckConfig
    except (ImportError, AttributeError) as exc:
        raise CheckerUnavailable(f"the symbolic checker (verifier.core.checker) is not available: {exc}") from exc
    if not overrides:
        return run_checks
    return functools.partial(run_checks, config=check_config(**overrides))


def checker_available() -> bool:
    try:
        load_checker()
    except CheckerUnavailable:
        return False
    return True


FINDING_FIELDS = ("category", "severity", "unit", "line", "message", "stage", "detail")


def finding(message: str, *, category: str = "format", severity: str = "error", unit: str | None = None,
            line: int | None = None, stage: str = "designer", detail: str = "") -> dict[str, Any]:
    """A finding of the designer's own (format, structure, observer), shaped like the checker's."""
    return {"category": category, "severity": severity, "unit": unit, "line": line, "message": message,
            "stage": stage, "detail": detail}


def run_check(tree: GAUTree, checker: CheckFn | None = None, *, focus_unit: str | None = None) -> CheckOutcome:
    """Static and runtime checks of `tree` (of `focus_unit` with the accepted units around it).

    Raises CheckerUnavailable when no check can run here (no checker, or its sandbox refuses to start)."""
    check = checker or load_checker()
    try:
        report = check(tree, focus_unit=focus_unit, stages=("static", "runtime"))
    except CheckerUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - a checker failure is a finding, not a crash
        if type(exc).__name__ == "SandboxUnavailable":
            raise CheckerUnavailable(f"the checker's sandbox does not work on this server: {exc}") from exc
        crash = finding(f"the checker could not check the design: {type(exc).__name__}: {exc}",
                        category=CHECKER_CATEGORY, unit=focus_unit, stage="checker")
        return CheckOutcome(passed=False, findings=[crash],
                            report={"passed": False, "findings": [crash], "figures": {}})
    data = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    passed = getattr(report, "passed", data.get("passed")) is True  # absent or odd: not passed
    data["passed"] = passed
    findings = [_finding_dict(f) for f in getattr(report, "findings", data.get("findings", []))]
    return CheckOutcome(passed=passed, findings=findings, report=data)


def _finding_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        source = item
    elif hasattr(item, "to_dict"):
        source = item.to_dict()
    else:
        source = {k: getattr(item, k, None) for k in FINDING_FIELDS}
    return {k: source.get(k) for k in FINDING_FIELDS}


def format_findings(findings: list[dict[str, Any]], limit: int = 20, detail_lines: int = 8) -> str:
    """Findings as a bullet list, errors first, each with the tail of its detail (a traceback), for a prompt."""
    ordered = sorted(findings, key=lambda f: f.get("severity") != "error")
    lines = []
    for f in ordered[:limit]:
        where = f" in {f['unit']}" if f.get("unit") else ""
        where += f" (line {f['line']})" if f.get("line") else ""
        lines.append(f"- [{f.get('severity', 'error')}] {f.get('category', 'check')}{where}: {f.get('message', '')}")
        detail = str(f.get("detail") or "").strip()
        if detail:
            lines += ["    " + d for d in detail.splitlines()[-detail_lines:]]
    if len(ordered) > limit:
        lines.append(f"- ... and {len(ordered) - limit} more")
    return "\n".join(lines) if lines else "- (no findings)"
