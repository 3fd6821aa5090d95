"""The symbolic checker: static checks on the AST, runtime checks in a sandboxed child process, a
comparison with the GPT seed, and the size tuner. See docs/SANDBOX.md for the isolation.

Names are imported on first use, so that the sandboxed child, which lives in this package, does
not import the parent's machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CATEGORIES": ".categories",
    "CheckConfig": ".config",
    "CheckReport": ".report",
    "Finding": ".report",
    "StageResult": ".report",
    "run_checks": ".pipeline",
    "tune_design_size": ".pipeline",
    "SandboxUnavailable": ".sandbox",
}

if TYPE_CHECKING:
    from .categories import CATEGORIES
    from .config import CheckConfig
    from .pipeline import run_checks, tune_design_size
    from .report import CheckReport, Finding, StageResult
    from .sandbox import SandboxUnavailable

__all__ = [
    "CATEGORIES",
    "CheckConfig",
    "CheckReport",
    "Finding",
    "SandboxUnavailable",
    "StageResult",
    "run_checks",
    "tune_design_size",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
