"""Read checker and verification reports into the few shapes the pages draw.

The reports are the engines' JSON (`CheckReport.to_dict()`, `VerificationReport.to_dict()`), stored
as they came. Verification reports are read through their schema (`VerificationReport.from_dict`):
a field renamed upstream fails a test here rather than turning into a silently missing chart. The
numbers that rank designs are not read here at all: the parent recomputes them
(`verifier.core.train.audit`, `verifier.core.train.fitness`) and stores them on the verification.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from verifier.core.train.fitness import accuracy_of
from verifier.core.train.report import VerificationReport

FINDING_FIELDS = ("category", "severity", "unit", "line", "message", "stage", "detail")
SEVERITY_ORDER = {"error": 0, "fatal": 0, "warning": 1, "warn": 1, "info": 2, "note": 2}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ---- checker ---------------------------------------------------------------------------------------

def findings(report: dict | None) -> list[dict[str, Any]]:
    """Findings as dicts with the five fields, errors first."""
    if not isinstance(report, dict):
        return []
    out: list[dict[str, Any]] = []
    for item in report.get("findings") or []:
        if isinstance(item, dict):
            row = {k: item.get(k) for k in FINDING_FIELDS}
        elif isinstance(item, (list, tuple)):
            row = dict(zip(FINDING_FIELDS, list(item) + [None] * len(FINDING_FIELDS), strict=False))
        else:
            row = {"category": "", "severity": "error", "unit": None, "line": None, "message": str(item)}
        row["severity"] = str(row.get("severity") or "error").lower()
        row["message"] = str(row.get("message") or "")
        out.append(row)
    out.sort(key=lambda r: SEVERITY_ORDER.get(r["severity"], 3))
    return out


def stages(report: dict | None) -> list[dict[str, Any]]:
    """The checker's stages in order: name, passed (None: not run), seconds, why skipped."""
    raw = report.get("stages") if isinstance(report, dict) else None
    if not isinstance(raw, dict):
        return []
    return [{"name": str(name), "passed": s.get("passed"), "seconds": _number(s.get("seconds")),
             "skipped": s.get("skipped", "")} for name, s in raw.items() if isinstance(s, dict)]


def figures(report: dict | None) -> dict[str, list]:
    """Split the checker's figures into scalars (name, value) and series (name, list of numbers)."""
    scalars: list[tuple[str, Any]] = []
    series: list[tuple[str, list[float]]] = []
    raw = report.get("figures") if isinstance(report, dict) else None
    if isinstance(raw, list):
        raw = {str(f.get("name", i)): f.get("value") for i, f in enumerate(raw) if isinstance(f, dict)}
    if isinstance(raw, dict):
        for name, value in _flatten(raw):
            if isinstance(value, list) and value and all(_number(v) is not None for v in value):
                series.append((name, [float(v) for v in value]))
            elif isinstance(value, float):
                scalars.append((name, round(value, 6)))
            elif isinstance(value, (int, str, bool)) or value is None:
                scalars.append((name, value))
            else:
                scalars.append((name, str(value)[:200]))
    return {"scalars": scalars, "series": series}


def _si(value: float, units: tuple[tuple[str, float], ...], suffix: str = "") -> str:
    for unit, size in units:
        if abs(value) >= size:
            return f"{value / size:.3g} {unit}{suffix}".rstrip()
    return f"{value:.3g}{(' ' + suffix) if suffix else ''}"


def format_figure(name: str, value: Any) -> str:
    """A checker figure as a reader wants it, its unit read off its name: bytes in MiB, seconds in
    ms or s, parameters in k/M, FLOPs in G/T, ratios as ×."""
    number = _number(value)
    if number is None:
        return "–" if value is None else str(value)
    key = name.rsplit(".", 1)[-1].lower()
    if key.endswith("_ratio"):
        return f"×{number:.3g}"
    if key.endswith("_bytes"):
        return _si(number, (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)), "" if abs(number) >= 1024 else "B")
    if key.endswith("_mb"):
        return f"{number:,.0f} MB"
    if key.endswith("_seconds"):
        return f"{number * 1000:.3g} ms" if abs(number) < 1 else f"{number:.3g} s"
    if key.startswith("params") or key.endswith("_params") or key.endswith("parameters"):
        return f"{number:,.0f}" if abs(number) < 1000 else _si(number, (("B", 1e9), ("M", 1e6), ("k", 1e3))).replace(" ", "")
    if "flops" in key:
        return _si(number, (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)))
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{number:.4g}"


# The checker's figures that have a GPT-reference counterpart and a ratio, in reading order.
REFERENCE_FIGURES = (
    ("params_non_embedding", "non-embedding parameters"), ("flops_per_step", "FLOPs per training step"),
    ("memory_bytes", "memory"), ("time_units", "step time (calibrated)"), ("loss_last", "loss after the short run"),
)


def reference_rows(scalars: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """The design against the checker's GPT reference: label, design value, reference value, ratio."""
    table = dict(scalars)
    rows = []
    for key, label in REFERENCE_FIGURES:
        mine, ref, ratio = table.get(key), table.get(f"reference.{key}"), table.get(f"{key}_ratio")
        if mine is None and ref is None:
            continue
        if _number(ratio) is None and _number(mine) is not None and _number(ref):
            ratio = _number(mine) / _number(ref)  # type: ignore[operator]
        rows.append({"key": key, "label": label, "design": format_figure(key, mine),
                     "reference": format_figure(key, ref), "ratio": _number(ratio)})
    return rows


def _flatten(raw: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested figures (e.g. the GPT reference's) as dotted names, one level at a time."""
    out: list[tuple[str, Any]] = []
    for name, value in raw.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and not prefix:
            out.extend(_flatten(value, key + "."))
        else:
            out.append((key, value))
    return out


# ---- verification ----------------------------------------------------------------------------------

ReportLike = VerificationReport | dict | None


def as_report(report: ReportLike) -> VerificationReport | None:
    """The stored JSON through the schema, for display. A report that names no design (a failure
    stub, an old row) still reads: display is not trust, the scores are audited elsewhere."""
    if isinstance(report, VerificationReport):
        return report
    if not isinstance(report, dict):
        return None
    try:
        return VerificationReport.from_dict({"design_name": "", "design_hash": "", "rung": "", **report})
    except TypeError:
        return None


def loss_curves(report: ReportLike) -> dict[str, dict[str, list[float]]]:
    """{"train": {"x": steps, "y": losses, "tokens": [...]}, "validation": {...}} from the report's
    loss curve (points {"step", "tokens", "loss", "val_loss"?}); "tokens" only where every point has it."""
    r = as_report(report)
    if r is None or not isinstance(r.loss_curve, list):
        return {}
    out: dict[str, dict[str, list[float]]] = {}
    for name, key in (("train", "loss"), ("validation", "val_loss")):
        points = [p for p in r.loss_curve if isinstance(p, dict) and _number(p.get(key)) is not None
                  and _number(p.get("step")) is not None]
        if not points:
            continue
        curve: dict[str, list[float]] = {"x": [float(p["step"]) for p in points], "y": [float(p[key]) for p in points]}
        tokens = [_number(p.get("tokens")) for p in points]
        if all(t is not None for t in tokens):
            curve["tokens"] = tokens  # type: ignore[assignment]
        out[name] = curve
    return out


def run_details(report: ReportLike) -> dict[str, Any]:
    """What was trained and how it ran, for the verification's detail panel: shape, parameters,
    tokens trained, data, device, throughput, memory, validation loss, perplexity and bits per byte,
    wall time per phase. Missing fields are None (or empty)."""
    r = as_report(report)
    if r is None:
        return {}
    shape, data, config = _dict(r.shape), _dict(r.data), _dict(r.config)
    rung_cfg = _section(config, "rung")
    trained = None
    if r.loss_curve and isinstance(r.loss_curve[-1], dict):
        trained = _number(r.loss_curve[-1].get("tokens"))
    if trained is None:
        trained = _number(rung_cfg.get("train_tokens"))
    wall = _dict(r.wall_time_s)
    return {
        "d_model": shape.get("d_model"), "n_block": shape.get("n_block"),
        "non_embedding_params": _number(shape.get("non_embedding_params")),
        "total_params": _number(shape.get("total_params")),
        "target_params": _number(shape.get("target_params") or rung_cfg.get("target_params")),
        "tokens_trained": trained, "context_length": rung_cfg.get("context_length"),
        "batch_tokens": rung_cfg.get("batch_tokens"),
        "corpus": data.get("corpus") or "", "tokenizer": data.get("tokenizer") or "",
        "vocab_size": data.get("vocab_size"), "epochs": _number(data.get("epochs")),
        "device": str(r.device or ""), "seed": r.seed,
        "tokens_per_s": _number(r.tokens_per_s), "mfu": _number(r.mfu),
        "peak_memory_bytes": _number(r.peak_memory_bytes), "peak_memory_kind": str(r.peak_memory_kind or ""),
        "final_train_loss": _number(r.final_train_loss), "val_loss": _number(r.val_loss),
        "val_perplexity": _number(r.val_perplexity), "val_bpb": _number(r.val_bpb),
        "wall_total_s": _number(wall.get("total")),
        "wall_phases": [(str(k), _number(v)) for k, v in wall.items() if k != "total" and _number(v) is not None],
        "warnings": [str(w) for w in r.warnings or [] if w],
        "failure": r.failure if isinstance(r.failure, dict) and r.failure else None,
        "versions": _dict(r.versions),
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _section(report: dict, key: str) -> dict[str, Any]:
    return _dict(report.get(key))


def _eval_rows(report: ReportLike) -> dict[str, dict[str, Any]]:
    r = as_report(report)
    if r is None or not isinstance(r.eval, dict):
        return {}
    return {str(t): row for t, row in r.eval.items() if isinstance(row, dict)}


def task_scores(report: ReportLike) -> dict[str, float]:
    """Per-task accuracy (acc_norm where reported), task -> number; perplexity-only tasks left out."""
    out = {}
    for task, row in _eval_rows(report).items():
        value = accuracy_of(row)[1]
        if value is not None:
            out[task] = value
    return out


def task_rows(report: ReportLike, chance: Callable[[str], float | None] | None = None) -> list[dict[str, Any]]:
    """Per task what a reader needs to judge a score: the metric used (acc_norm where reported, as
    the fitness does), its value, standard error and sample count, the random-choice baseline and
    the score above it, and the likelihood-based scores where measured. `chance(task)` is a task's
    chance accuracy (None: not an accuracy task)."""
    rows: list[dict[str, Any]] = []
    for task, row in _eval_rows(report).items():
        metric, score = accuracy_of(row)
        if score is None:
            continue
        samples = _number(row.get("samples"))
        base = chance(task) if chance is not None else None
        rows.append({"task": task, "metric": metric, "value": score, "stderr": _number(row.get(f"{metric}_stderr")),
                     "samples": int(samples) if samples is not None else None, "chance": base,
                     "above": score - base if base is not None else None,
                     "logprob_per_byte": _number(row.get("logprob_per_byte")),
                     "logprob_per_byte_stderr": _number(row.get("logprob_per_byte_stderr")),
                     "margin": _number(row.get("margin")), "margin_stderr": _number(row.get("margin_stderr"))})
    return rows


def final_loss(report: ReportLike) -> float | None:
    """The validation loss where measured, else the last training loss."""
    r = as_report(report)
    if r is None:
        return None
    return _number(r.val_loss) if _number(r.val_loss) is not None else _number(r.final_train_loss)


def summary_metrics(report: ReportLike) -> dict[str, Any]:
    """The numbers kept on the verification row for lists: loss, bpb, params, per-task accuracy,
    time. The fitness is not among them: the parent recomputes it (`fitness`, set by the service)."""
    r = as_report(report)
    if r is None:
        return {}
    out: dict[str, Any] = {}
    loss = final_loss(r)
    if loss is not None:
        out["final_loss"] = loss
    params = _number(_dict(r.shape).get("non_embedding_params"))
    if params is not None:
        out["params"] = int(params)
    scores = task_scores(r)
    if scores:
        out["tasks"] = scores
        out["mean_score"] = sum(scores.values()) / len(scores)
    for name in ("val_perplexity", "val_bpb"):
        value = _number(getattr(r, name))
        if value is not None:
            out[name] = value
    seconds = _number(_dict(r.wall_time_s).get("total"))
    if seconds is not None:
        out["gpu_seconds"] = seconds
    return out
