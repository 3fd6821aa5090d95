"""`run_checks`: the one checker every design passes before it may train.

Static checks run here, on the AST. The runtime stages run in a sandboxed child process; this
process never imports the design. Its figures are then compared with the GPT seed's at the same
configuration (measured the same way, cached).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable
from typing import Any

from ..gau.composer import compose
from ..gau.tree import GAUTree, TreeError
from ..sizing import SizeResult, SizingError
from .categories import (
    CHECKER,
    ERROR,
    KILLED,
    NOT_LEARNING,
    PROTOCOL,
    TIMEOUT,
    TOO_MUCH_MEMORY,
    TOO_SLOW,
    WARNING,
)
from .config import CheckConfig, summary
from .placeholders import with_placeholders
from .report import CheckReport, Finding, StageResult
from .sample_text import training_text
from .sandbox import SandboxOutcome, run_in_sandbox
from .source_map import SourceMap
from .static_checks import static_findings

STAGES = ("static", "runtime")
FINGERPRINT_MAX = 80  # "fp1:" and a sha256 in hex; what the child claims is cut to this
RUNTIME_STAGES = ("load", "init", "forward", "causality", "mixing", "gradients", "train", "performance")
# Stages a tree with placeholder units skips: a pass-through placeholder may stand for the token mixer.
PLACEHOLDER_SKIPS = ("mixing", "train", "performance")

# (figure, what it measures, warning attribute, error attribute, category). The exact figures come
# first, so a design both too big and too slow is reported by the measurement that cannot be noise.
COMPARISONS = (
    ("flops_per_step", "FLOPs per training step", "flops_warning", "flops_error", TOO_SLOW),
    ("memory_bytes", "training memory", "memory_warning", "memory_error", TOO_MUCH_MEMORY),
    ("time_units", "training step time (CPU)", "time_warning", "time_error", TOO_SLOW),
    ("loss_last", "loss after the training run", "loss_warning", "loss_error", NOT_LEARNING),
)


def run_checks(
    tree: GAUTree,
    config: CheckConfig | None = None,
    *,
    focus_unit: str | None = None,
    stages: Iterable[str] = STAGES,
) -> CheckReport:
    """Check `tree`. With `focus_unit`, the tree may declare units nobody has written yet: they are
    replaced by pass-through placeholders, so the new unit runs with the already accepted ones."""
    config = config or CheckConfig()
    stages = tuple(stages)
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; stages are {STAGES}")
    started = time.perf_counter()
    report = CheckReport(
        design=tree.name, tree_hash=_safe_hash(tree), focus_unit=focus_unit, config=summary(config)
    )
    allow_unimplemented = focus_unit is not None
    if focus_unit is not None and focus_unit not in tree.units:
        report.add(
            PROTOCOL, ERROR, f"focus unit {focus_unit!r} is not implemented in the tree", stage="static"
        )

    if "static" in stages:
        t0 = time.perf_counter()
        report.findings.extend(static_findings(tree, config, allow_unimplemented=allow_unimplemented))
        report.stages["static"] = StageResult(passed=not report.errors, seconds=time.perf_counter() - t0)

    if "runtime" in stages:
        if report.errors:
            for name in RUNTIME_STAGES:
                report.stages[name] = StageResult(skipped="the static checks failed")
        else:
            _runtime(tree, config, report, allow_unimplemented)

    report.passed = (
        not report.errors
        and all(s.passed is not False for s in report.stages.values())
        and _ran_everything(report, stages)
    )
    if not report.passed:
        report.fingerprint = ""  # only a design that passed has a behaviour worth comparing
    report.seconds = time.perf_counter() - started
    return report


def _ran_everything(report: CheckReport, stages: tuple[str, ...]) -> bool:
    if "runtime" not in stages:
        return True
    placeholders = bool(report.figures.get("placeholders"))
    for name in RUNTIME_STAGES:
        stage = report.stages.get(name)
        if stage is None:
            return False
        if stage.passed is None and not (placeholders and name in PLACEHOLDER_SKIPS):
            return False
    return True


def _safe_hash(tree: GAUTree) -> str:
    try:
        return tree.content_hash()
    except (TypeError, ValueError):
        return ""


def _runtime(tree: GAUTree, config: CheckConfig, report: CheckReport, allow_unimplemented: bool) -> None:
    completed, placeholders = with_placeholders(tree) if allow_unimplemented else (tree, [])
    try:
        source = compose(completed)
    except (TreeError, SyntaxError) as exc:
        report.add(PROTOCOL, ERROR, f"the tree does not compose: {exc}", stage="runtime")
        return
    source_map = SourceMap(source, completed)
    text, text_source = training_text(config)
    job = {
        "mode": "check",
        "source": source,
        "name": tree.name,
        "config": config.to_dict(),
        "placeholders": placeholders,
    }
    outcome = run_in_sandbox(job, text, config)
    report.sandbox = outcome.mode
    report.figures["training_text"] = text_source
    report.figures["sandbox_seconds"] = round(outcome.seconds, 3)
    if placeholders:
        report.figures["placeholders"] = placeholders
    interpret(outcome, report, source_map, config)
    if config.compare_with_reference and report.stages.get("performance", StageResult()).passed:
        _compare(report, config)


def interpret(
    outcome: SandboxOutcome, report: CheckReport, source_map: SourceMap, config: CheckConfig
) -> None:
    """Turn the child's events into stages, findings and figures; account for how it ended."""
    current: str | None = None
    for event in outcome.events:
        kind = event.get("event")
        if kind == "stage":
            name = str(event.get("stage"))
            status = event.get("status")
            if status == "start":
                current = name
                report.stages[name] = StageResult()
            elif status == "end":
                report.stages[name] = StageResult(
                    passed=bool(event.get("passed")), seconds=float(event.get("seconds", 0))
                )
                current = None
            elif status == "skipped":
                report.stages[name] = StageResult(skipped=str(event.get("reason", "")))
        elif kind == "finding":
            report.findings.append(_finding(event, source_map))
        elif kind == "fingerprint" and isinstance(event.get("value"), str):
            report.fingerprint = event["value"][:FINGERPRINT_MAX]
        elif kind == "figures" and isinstance(event.get("figures"), dict):
            report.figures.update(event["figures"])
        elif kind == "ready":
            report.figures["sandbox_startup_seconds"] = round(float(event.get("seconds", 0)), 3)
    if outcome.finished:
        return
    where = f" during stage {current}" if current else ""
    if outcome.timed_out:
        report.add(
            TIMEOUT,
            ERROR,
            f"the check did not finish within {config.timeout_s:g} s{where} (endless loop or far too slow)",
            stage=current or "runtime",
        )
    elif outcome.flooded:
        report.add(
            KILLED,
            ERROR,
            f"the design flooded the checker's result channel{where}; it was killed",
            stage=current or "runtime",
        )
    else:
        sig = outcome.signal
        how = (
            f"was killed by {signal.Signals(sig).name}"
            if sig and sig in signal.valid_signals()
            else (f"exited with status {outcome.returncode}")
        )
        report.add(
            KILLED,
            ERROR,
            f"the sandboxed process {how}{where} (crash, resource limit or kill)",
            stage=current or "runtime",
            detail=outcome.stderr_tail[-1500:],
        )
    if current is not None:
        report.stages[current] = StageResult(passed=False, seconds=report.stages[current].seconds)
    for name in RUNTIME_STAGES:
        report.stages.setdefault(name, StageResult(skipped="the sandboxed process ended early"))


def _finding(event: dict[str, Any], source_map: SourceMap) -> Finding:
    frames = event.get("frames") or []
    unit, line = event.get("unit"), None
    if frames:
        mapped_unit, line = source_map.innermost(frames)
        unit = unit or mapped_unit
    detail = event.get("detail", "")
    trace = []
    for composed_line, func in frames:
        u, l = source_map.locate(composed_line)
        if u is not None:
            trace.append(f"  in unit {u}, line {l if l is not None else '?'}, in {func}")
    if trace:
        detail = "\n".join(["design traceback (innermost last):", *trace] + ([detail] if detail else []))
    return Finding(
        category=str(event.get("category")),
        severity=str(event.get("severity")),
        unit=unit,
        line=line,
        message=str(event.get("message", "")),
        stage=str(event.get("stage", "")),
        detail=detail,
    )


def _compare(report: CheckReport, config: CheckConfig) -> None:
    from .reference import ReferenceError, reference_figures

    t0 = time.perf_counter()
    try:
        reference = reference_figures(config, report.sandbox, str(report.figures.get("training_text", "")))
    except ReferenceError as exc:
        # Fail closed: without the reference the speed, memory and loss limits were not checked.
        report.add(
            CHECKER,
            ERROR,
            f"the speed, memory and loss limits could not be checked, so the design is not accepted: {exc}",
            stage="compare",
        )
        report.stages["compare"] = StageResult(passed=False, seconds=time.perf_counter() - t0)
        return
    report.figures["reference"] = dict(reference)
    if reference.get("params_non_embedding") and isinstance(report.figures.get("params_non_embedding"), int):
        # Shown, not judged: at a fixed shape a design may be bigger or smaller; the size tuner evens it out.
        report.figures["params_non_embedding_ratio"] = round(
            report.figures["params_non_embedding"] / reference["params_non_embedding"], 4
        )
    for key, label, warn_attr, err_attr, category in COMPARISONS:
        mine, theirs = report.figures.get(key), reference.get(key)
        if not isinstance(mine, (int, float)) or not isinstance(theirs, (int, float)) or theirs <= 0:
            continue
        ratio = float(mine) / float(theirs)
        report.figures[f"{key}_ratio"] = round(ratio, 4)
        warn, err = getattr(config, warn_attr), getattr(config, err_attr)
        text = f"{label} is {ratio:.2f}x that of the {config.reference_seed} seed at the same configuration"
        if ratio > err:
            report.add(category, ERROR, f"{text} (limit {err:g}x)", stage="compare")
        elif ratio > warn:
            report.add(category, WARNING, f"{text} (warning above {warn:g}x)", stage="compare")
    errors = [f for f in report.findings if f.stage == "compare" and f.severity == ERROR]
    report.stages["compare"] = StageResult(passed=not errors, seconds=time.perf_counter() - t0)


def tune_design_size(
    tree: GAUTree,
    target: int,
    d_model: int,
    n_block: int,
    tolerance: float = 0.2,
    config: CheckConfig | None = None,
    min_d_model: int = 64,
) -> SizeResult:
    """Find (d_model, n_block) whose non-embedding parameter count is within `tolerance` of `target`.
    Counting builds the design, so it runs in the sandbox. Raises SizingError when impossible."""
    config = config or CheckConfig()
    source = compose(tree)
    job = {
        "mode": "size",
        "source": source,
        "name": tree.name,
        "config": config.to_dict(),
        "placeholders": [],
        "size": {
            "target": target,
            "d_model": d_model,
            "n_block": n_block,
            "tolerance": tolerance,
            "min_d_model": min_d_model,
        },
    }
    text, _ = training_text(config.replace(text_bytes=4096))
    outcome = run_in_sandbox(job, text, config)
    for event in outcome.events:
        if event.get("event") == "size":
            if "error" in event:
                raise SizingError(str(event["error"]))
            return SizeResult(
                int(event["d_model"]),
                int(event["n_block"]),
                int(event["params"]),
                int(event["target"]),
                [tuple(t) for t in event.get("tried", [])],
            )
    problems = [e.get("message", "") for e in outcome.events if e.get("event") == "finding"]
    reason = "; ".join(problems) or (
        "timed out" if outcome.timed_out else f"exit status {outcome.returncode}"
    )
    raise SizingError(f"could not size the design: {reason}")
