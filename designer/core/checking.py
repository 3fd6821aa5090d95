"""The designer's view of the symbolic checker (verifier.core.checker): run it, and turn its findings
into text a coder can act on.

The checker is imported lazily so that the designer loads without it; a checker that crashes on a
design is reported as an error finding instead of crashing the design.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier.core.gau.tree import GAUTree

CheckFn = Callable[..., Any]


class CheckerUnavailable(RuntimeError):
    """verifier.core.checker is not importable in this installation."""


@dataclass
class CheckOutcome:
    passed: bool
    findings: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

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


FINDING_FIELDS = ("category", "severity", "unit", "line", "message", "stage", "detail")


def finding(message: str, *, category: str = "format", severity: str = "error", unit: str | None = None,
            line: int | None = None, stage: str = "designer", detail: str = "") -> dict[str, Any]:
    """A finding of the designer's own (format, structure, observer), shaped like the checker's."""
    return {"category": category, "severity": severity, "unit": unit, "line": line, "message": message,
            "stage": stage, "detail": detail}


def run_check(tree: GAUTree, checker: CheckFn | None = None, *, focus_unit: str | None = None) -> CheckOutcome:
    """Static and runtime checks of `tree` (of `focus_unit` with the accepted units around it)."""
    check = checker or load_checker()
    try:
        report = check(tree, focus_unit=focus_unit, stages=("static", "runtime"))
    except CheckerUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - a checker failure is a finding, not a crash
        crash = finding(f"the checker could not check the design: {type(exc).__name__}: {exc}",
                        category="checker", unit=focus_unit)
        return CheckOutcome(passed=False, findings=[crash], report={"passed": False, "findings": [crash]})
    data = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    findings = [_finding_dict(f) for f in getattr(report, "findings", data.get("findings", []))]
    return CheckOutcome(passed=bool(getattr(report, "passed", data.get("passed"))), findings=findings, report=data)


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
