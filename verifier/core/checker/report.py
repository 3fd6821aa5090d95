"""The check report: one structured, JSON-safe record per check of a design.

The designer agent reads it (as text) after each unit, the evolution app stores `to_dict()` on the
design, and the failure dashboard counts the categories of its error findings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .categories import ERROR, WARNING

REPORT_FORMAT = "genesys.check-report/1"


@dataclass
class Finding:
    """One problem: what kind, how bad, where (unit and the line in that unit's own code), and why."""

    category: str
    severity: str
    unit: str | None
    line: int | None
    message: str
    stage: str = ""
    detail: str = ""  # e.g. the tail of a traceback, shown folded in the UI

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            category=data["category"],
            severity=data["severity"],
            unit=data.get("unit"),
            line=data.get("line"),
            message=data.get("message", ""),
            stage=data.get("stage", ""),
            detail=data.get("detail", ""),
        )

    def where(self) -> str:
        if self.unit is None:
            return ""
        return f"{self.unit}:{self.line}" if self.line else self.unit


@dataclass
class StageResult:
    """Whether a stage ran, passed, and how long it took (skipped stages say why)."""

    passed: bool | None = None  # None: not run
    seconds: float = 0.0
    skipped: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "seconds": round(self.seconds, 4), "skipped": self.skipped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageResult:
        return cls(
            passed=data.get("passed"),
            seconds=float(data.get("seconds", 0.0)),
            skipped=data.get("skipped", ""),
        )


@dataclass
class CheckReport:
    """The outcome of `run_checks`: passed only when no error was found and every stage asked for ran."""

    design: str = ""
    tree_hash: str = ""
    focus_unit: str | None = None
    passed: bool = False
    findings: list[Finding] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, StageResult] = field(default_factory=dict)
    sandbox: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    # The behavioural fingerprint (checker/fingerprint.py) of a design that passed; "" otherwise and
    # in reports written before it existed.
    fingerprint: str = ""

    # ---- building ------------------------------------------------------------------------------
    def add(
        self,
        category: str,
        severity: str,
        message: str,
        unit: str | None = None,
        line: int | None = None,
        stage: str = "",
        detail: str = "",
    ) -> Finding:
        finding = Finding(category, severity, unit, line, message, stage, detail)
        self.findings.append(finding)
        return finding

    # ---- reading -------------------------------------------------------------------------------
    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def categories(self) -> list[str]:
        """Categories of the error findings, in order of first appearance, without repeats."""
        seen: list[str] = []
        for f in self.errors:
            if f.category not in seen:
                seen.append(f.category)
        return seen

    @property
    def category(self) -> str | None:
        """The category of the first error: what the failure dashboard counts."""
        return self.categories[0] if self.categories else None

    def findings_for(self, unit: str) -> list[Finding]:
        return [f for f in self.findings if f.unit == unit]

    def format_text(self, max_detail_lines: int = 8) -> str:
        """A plain-text summary for the CLI and for the designer agent's prompt."""
        status = "PASSED" if self.passed else "FAILED"
        lines = [f"Check of {self.design or 'design'}: {status} (sandbox: {self.sandbox or 'none'})"]
        if self.focus_unit:
            lines.append(f"Focus unit: {self.focus_unit}")
        for name, stage in self.stages.items():
            state = "skipped" if stage.passed is None else ("ok" if stage.passed else "FAILED")
            note = f" ({stage.skipped})" if stage.skipped else ""
            lines.append(f"  stage {name:<12} {state:<8} {stage.seconds:6.2f}s{note}")
        for f in self.findings:
            where = f" [{f.where()}]" if f.where() else ""
            lines.append(f"{f.severity.upper()} {f.category}{where}: {f.message}")
            if f.detail:
                detail = f.detail.strip().splitlines()[-max_detail_lines:]
                lines.extend("    " + d for d in detail)
        if self.figures:
            shown = ", ".join(
                f"{k}={_short(v)}" for k, v in self.figures.items() if not isinstance(v, (dict, list))
            )
            lines.append(f"Figures: {shown}")
        return "\n".join(lines)

    # ---- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "design": self.design,
            "tree_hash": self.tree_hash,
            "focus_unit": self.focus_unit,
            "passed": self.passed,
            "category": self.category,
            "findings": [f.to_dict() for f in self.findings],
            "figures": json_safe(self.figures),
            "stages": {k: v.to_dict() for k, v in self.stages.items()},
            "sandbox": self.sandbox,
            "config": json_safe(self.config),
            "seconds": round(self.seconds, 3),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckReport:
        return cls(
            design=data.get("design", ""),
            tree_hash=data.get("tree_hash", ""),
            focus_unit=data.get("focus_unit"),
            passed=bool(data.get("passed", False)),
            findings=[Finding.from_dict(f) for f in data.get("findings", [])],
            figures=dict(data.get("figures", {})),
            stages={k: StageResult.from_dict(v) for k, v in data.get("stages", {}).items()},
            sandbox=data.get("sandbox", ""),
            config=dict(data.get("config", {})),
            seconds=float(data.get("seconds", 0.0)),
            fingerprint=str(data.get("fingerprint") or ""),
        )


def json_safe(value: Any) -> Any:
    """Replace what JSON cannot hold (NaN, inf, tuples, odd keys) so the report always serialises."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
