"""Read checker and verification reports into the few shapes the pages draw.

The reports are the engines' JSON (`CheckReport.to_dict()`, `VerificationReport.to_dict()`), stored
as they came. These readers accept the reasonable spellings of each field (a loss curve as a list
of points, as parallel arrays or as a list of pairs) so that a field renamed upstream degrades to a
missing chart, never to a broken page.
"""

from __future__ import annotations

import math
from typing import Any

FINDING_FIELDS = ("category", "severity", "unit", "line", "message", "stage", "detail")
SEVERITY_ORDER = {"error": 0, "fatal": 0, "warning": 1, "warn": 1, "info": 2, "note": 2}
SCORE_KEYS = ("acc_norm", "acc", "accuracy", "score", "exact_match", "f1", "value")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _dig(report: dict, *paths: str) -> Any:
    for path in paths:
        node: Any = report
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if node is not None:
            return node
    return None


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

def _curve(raw: Any, x_keys=("step", "steps", "tokens", "x"), y_keys=("loss", "train_loss", "y")) -> tuple:
    xs: list[float] = []
    ys: list[float] = []
    if isinstance(raw, dict):
        x = next((raw[k] for k in x_keys if isinstance(raw.get(k), list)), None)
        y = next((raw[k] for k in y_keys if isinstance(raw.get(k), list)), None)
        if y is not None:
            x = x if x is not None and len(x) == len(y) else list(range(len(y)))
            pairs = list(zip(x, y, strict=True))
        else:
            pairs = []
    elif isinstance(raw, list):
        pairs = []
        for i, item in enumerate(raw):
            if isinstance(item, dict):
                xv = next((item[k] for k in x_keys if k in item), i)
                yv = next((item[k] for k in y_keys if k in item), None)
                pairs.append((xv, yv))
            elif isinstance(item, (list, tuple)) and len(item) >= 2:
                pairs.append((item[0], item[1]))
            else:
                pairs.append((i, item))
    else:
        pairs = []
    for xv, yv in pairs:
        xn, yn = _number(xv), _number(yv)
        if xn is not None and yn is not None:
            xs.append(xn)
            ys.append(yn)
    return xs, ys


def loss_curves(report: dict | None) -> dict[str, dict[str, list[float]]]:
    """{"train": {"x": [...], "y": [...]}, "validation": {...}} with whichever curves the report has."""
    if not isinstance(report, dict):
        return {}
    out: dict[str, dict[str, list[float]]] = {}
    train = _dig(report, "loss_curve", "curve", "train.loss_curve", "training.loss_curve", "history")
    x, y = _curve(train)
    if y:
        out["train"] = {"x": x, "y": y}
    val = _dig(report, "val_curve", "val_loss_curve", "eval_loss_curve", "train.val_curve")
    vx, vy = _curve(val, y_keys=("val_loss", "loss", "eval_loss", "y"))
    if not vy and isinstance(train, list):
        vx, vy = _curve(train, y_keys=("val_loss", "eval_loss"))
    if vy:
        out["validation"] = {"x": vx, "y": vy}
    return out


def _score(value: Any) -> float | None:
    if isinstance(value, dict):
        for key in SCORE_KEYS:
            for k, v in value.items():  # lm-eval spells metrics "acc,none"
                if k.split(",")[0] == key and _number(v) is not None:
                    return _number(v)
        return next((_number(v) for v in value.values() if _number(v) is not None), None)
    return _number(value)


def task_scores(report: dict | None) -> dict[str, float]:
    """Per-task evaluation scores, task -> number."""
    if not isinstance(report, dict):
        return {}
    raw = _dig(report, "eval", "evals", "tasks", "eval_results", "scores", "evaluation", "eval.results")
    if isinstance(raw, dict) and isinstance(raw.get("results"), dict):
        raw = raw["results"]
    out: dict[str, float] = {}
    if isinstance(raw, dict):
        for task, value in raw.items():
            score = _score(value)
            if score is not None:
                out[str(task)] = score
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict):
                task = item.get("task") or item.get("name")
                score = _score({k: v for k, v in item.items() if k not in ("task", "name")})
                if task and score is not None:
                    out[str(task)] = score
    return out


def fitness(report: dict | None) -> float | None:
    if not isinstance(report, dict):
        return None
    value = report.get("fitness")
    if isinstance(value, dict):
        value = value.get("value", value.get("score"))
    return _number(value)


def final_loss(report: dict | None) -> float | None:
    if not isinstance(report, dict):
        return None
    value = _number(_dig(report, "val_loss", "final_loss", "final_train_loss", "eval_loss", "loss"))
    if value is not None:
        return value
    curves = loss_curves(report)
    for key in ("validation", "train"):
        if key in curves and curves[key]["y"]:
            return curves[key]["y"][-1]
    return None


def summary_metrics(report: dict | None) -> dict[str, Any]:
    """The numbers kept on the verification row (and in leaderboards): loss, params, scores."""
    if not isinstance(report, dict):
        return {}
    out: dict[str, Any] = {}
    loss = final_loss(report)
    if loss is not None:
        out["final_loss"] = loss
    params = _number(_dig(report, "shape.non_embedding_params", "params", "n_params", "non_embedding_params"))
    if params is not None:
        out["params"] = int(params)
    scores = task_scores(report)
    if scores:
        out["tasks"] = scores
        out["mean_score"] = sum(scores.values()) / len(scores)
    ppl = _number(report.get("val_perplexity"))
    if ppl is not None:
        out["val_perplexity"] = ppl
    gpu = _number(_dig(report, "gpu_seconds", "wall_time_s.total", "wall_seconds", "seconds"))
    if gpu is not None:
        out["gpu_seconds"] = gpu
    return out
