"""Check a design named by a path (design JSON, unit folder, single-file GAB) or a seed name.

A file that cannot even be read into a tree still gets a report (syntax or protocol), so that an
upload which fails is kept with the reason, like any other failed check.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..design_io import load_design
from ..gau.tree import GAUTree, TreeError
from ..importer import DesignSyntaxError
from .categories import ERROR, PROTOCOL, SYNTAX
from .config import CheckConfig, summary
from .pipeline import STAGES, run_checks
from .report import CheckReport


def unreadable_report(name: str, exc: Exception, config: CheckConfig) -> CheckReport:
    report = CheckReport(design=name, config=summary(config))
    if isinstance(exc, DesignSyntaxError):
        report.add(SYNTAX, ERROR, str(exc), line=exc.lineno, stage="static")
    elif isinstance(exc, SyntaxError):
        report.add(SYNTAX, ERROR, f"{exc.msg}", line=exc.lineno, stage="static")
    else:
        report.add(PROTOCOL, ERROR, f"cannot read the design: {exc}", stage="static")
    return report


def check_path(
    ref: str | Path,
    config: CheckConfig | None = None,
    *,
    focus_unit: str | None = None,
    stages: Iterable[str] = STAGES,
) -> tuple[GAUTree | None, CheckReport]:
    """(the design's tree, or None when it cannot be read; the report)."""
    config = config or CheckConfig()
    try:
        tree = load_design(str(ref))
    except (TreeError, SyntaxError, OSError, UnicodeDecodeError) as exc:
        return None, unreadable_report(Path(str(ref)).stem, exc, config)
    return tree, run_checks(tree, config, focus_unit=focus_unit, stages=stages)
