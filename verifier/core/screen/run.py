"""`screen`: score many designs cheaply, each in its own child process, into one screen.json.

Each design runs `verify DESIGN --rung screen` in a child (verifier.core.screen.child); the parent
reads the child's report and recomputes the score from the raw components (it never takes the
child's own fitness). A design that fails gets `"score": null` and its failure category; the
others are unaffected. screen.json is rewritten after every design, so a stopped screen keeps
what it finished.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..train.ladder import get_rung
from ..train.report import REPORT_NAME, VerificationReport
from .child import ChildResult, run_child
from .components import orient, raw_of
from .score import screen_score

SCREEN_NAME = "screen.json"
CHILD_NAME = "child.json"  # per design folder: exit code, wall and CPU seconds of its child
DEFAULT_TIMEOUT_S = 900.0
USAGE_ERROR = 2  # `verify` exits 2 when its arguments (the design) cannot be read


def design_folder(out: Path, index: int, design: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(design).stem or design)[:40]
    return out / f"{index:03d}-{slug}"


def entry_from_report(design: str, report: VerificationReport | None, child: ChildResult,
                      tail: str = "") -> dict[str, Any]:
    """The screen.json entry of one design, scored from the raw components of its report (`tail`:
    the end of the child's log, for a child that wrote no report)."""
    entry: dict[str, Any] = {"design": design, "score": None, "stderr": None, "components": {}, "failure": None}
    if report is None:
        if child.timed_out:
            entry["failure"] = {"category": "timeout", "message": f"no report within {child.wall_s:.0f} s"}
        elif child.returncode == USAGE_ERROR:
            entry["failure"] = {"category": "design_error", "message": f"not a design: {tail}"}
        else:
            entry["failure"] = {"category": "crashed",
                                "message": f"the child exited with {child.returncode} and wrote no report: {tail}"}
        return entry
    components, score, stderr = rescore(report.components)
    entry["components"] = components
    if child.timed_out:
        entry["failure"] = {"category": "timeout", "message": f"killed after {child.wall_s:.0f} s"}
    elif not report.ok:
        entry["failure"] = report.failure or {"category": report.status, "message": f"status {report.status}"}
    if entry["failure"] is None:
        if score is None:
            entry["failure"] = {"category": "no_score", "message": "the report has no usable component"}
        entry["score"], entry["stderr"] = score, stderr
    return entry


def rescore(components: dict[str, dict[str, Any]], rung: str = "screen"
            ) -> tuple[dict[str, dict[str, Any]], float | None, float | None]:
    """(components, score, stderr) recomputed from the raw numbers of a screen report's components,
    with this process's definition of `rung` (reference bpb, measured noise): the parent's, never
    the report's. `rung` names another screen only to re-read reports an earlier screen made."""
    rung_def = get_rung(rung)
    if rung_def.kind != "screen":
        raise ValueError(f"{rung!r} is not a screen rung")
    oriented = orient(raw_of(components), rung_def.noise, rung_def.extra.get("reference_bpb"))
    score, stderr = screen_score(oriented)
    return oriented, score, stderr


def _tail(path: Path, chars: int = 500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:].strip()
    except OSError:
        return ""


def _read_report(folder: Path) -> VerificationReport | None:
    try:
        return VerificationReport.read(folder / REPORT_NAME)
    except (OSError, ValueError, TypeError):
        return None


def screen_designs(designs: list[str], out: Path, verify_args: list[str] | None = None,
                   timeout_s: float = DEFAULT_TIMEOUT_S,
                   log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Screen each design in turn; write and return {"designs": [entry, ...]}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"designs": []}
    for index, design in enumerate(designs):
        folder = design_folder(out, index, design)
        (folder / REPORT_NAME).unlink(missing_ok=True)  # never read a previous screen's report
        argv = ["verify", design, "--rung", "screen", "--out", str(folder), "--quiet", *(verify_args or [])]
        child = run_child(argv, folder / "log.txt", timeout_s)
        (folder / CHILD_NAME).write_text(json.dumps(dataclasses.asdict(child)))
        entry = entry_from_report(design, _read_report(folder), child, _tail(folder / "log.txt"))
        result["designs"].append(entry)
        write_screen(out, result)
        if log:
            state = (f"score {entry['score']:.4f} ± {entry['stderr']:.4f}" if entry["score"] is not None
                     else f"FAILED ({entry['failure']['category']})")
            log(f"{design}: {state}; {child.cpu_s:.0f} CPU-s, {child.wall_s:.0f} s wall")
    return result


def write_screen(out: Path, result: dict[str, Any]) -> Path:
    from ..train.report import json_safe

    path = Path(out) / SCREEN_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(json_safe(result), indent=2, allow_nan=False))
    tmp.replace(path)
    return path
