"""Read checker and verification reports into the few shapes the pages draw.

The reports are the engines' JSON (`CheckReport.to_dict()`, `VerificationReport.to_dict()`), stored
as they came. These readers accept the reasonable spellings of each field (a loss curve as a list
of points, as parallel arrays or as a list of pairs) so that a field renamed upstream degrades to a
missing chart, never to a broken page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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

def _curve(raw: Any, x_keys=("step", "steps", "tokens", "x"), y_keys=("loss", "train_loss", "y")) -> tuple:
    """(x, y, tokens): the points with a numeric x and y; tokens seen at each point, or None when
    the curve does not say."""
    xs: list[float] = []
    ys: list[float] = []
    ts: list[float | None] = []
    if isinstance(raw, dict):
        x = next((raw[k] for k in x_keys if isinstance(raw.get(k), list)), None)
        y = next((raw[k] for k in y_keys if isinstance(raw.get(k), list)), None)
        t = raw.get("tokens") if isinstance(raw.get("tokens"), list) else None
        if y is not None:
            x = x if x is not None and len(x) == len(y) else list(range(len(y)))
            t = t if t is not None and len(t) == len(y) else [None] * len(y)
            triples = list(zip(x, y, t, strict=True))
        else:
            triples = []
    elif isinstance(raw, list):
        triples = []
        for i, item in enumerate(raw):
            if isinstance(item, dict):
                xv = next((item[k] for k in x_keys if k in item), i)
                yv = next((item[k] for k in y_keys if k in item), None)
                triples.append((xv, yv, item.get("tokens")))
            elif isinstance(item, (list, tuple)) and len(item) >= 2:
                triples.append((item[0], item[1], None))
            else:
                triples.append((i, item, None))
    else:
        triples = []
    for xv, yv, tv in triples:
        xn, yn = _number(xv), _number(yv)
        if xn is not None and yn is not None:
            xs.append(xn)
            ys.append(yn)
            ts.append(_number(tv))
    return xs, ys, ts


def _points(x: list[float], y: list[float], tokens: list[float | None]) -> dict[str, list[float]]:
    out = {"x": x, "y": y}
    if tokens and all(t is not None for t in tokens):
        out["tokens"] = tokens  # type: ignore[assignment]
    return out


def loss_curves(report: dict | None) -> dict[str, dict[str, list[float]]]:
    """{"train": {"x": [...], "y": [...], "tokens": [...]}, "validation": {...}} with whichever curves
    the report has; "tokens" (training tokens seen at each point) only where every point says."""
    if not isinstance(report, dict):
        return {}
    out: dict[str, dict[str, list[float]]] = {}
    train = _dig(report, "loss_curve", "curve", "train.loss_curve", "training.loss_curve", "history")
    x, y, t = _curve(train)
    if y:
        out["train"] = _points(x, y, t)
    val = _dig(report, "val_curve", "val_loss_curve", "eval_loss_curve", "train.val_curve")
    vx, vy, vt = _curve(val, y_keys=("val_loss", "loss", "eval_loss", "y"))
    if not vy and isinstance(train, list):
        vx, vy, vt = _curve(train, y_keys=("val_loss", "eval_loss"))
    if vy:
        out["validation"] = _points(vx, vy, vt)
    return out


def run_details(report: dict | None) -> dict[str, Any]:
    """What was trained and how it ran, for the verification's detail panel: shape, parameters,
    tokens trained, data, device, throughput, memory, validation loss and perplexity, wall time
    per phase. Missing fields are None (or empty)."""
    if not isinstance(report, dict):
        return {}
    shape, data, config = _section(report, "shape"), _section(report, "data"), _section(report, "config")
    rung_cfg = _section(config, "rung")
    curve = report.get("loss_curve")
    trained = None
    if isinstance(curve, list) and curve and isinstance(curve[-1], dict):
        trained = _number(curve[-1].get("tokens"))
    if trained is None:
        trained = _number(rung_cfg.get("train_tokens"))
    wall = _section(report, "wall_time_s")
    failure = _section(report, "failure") or None
    return {
        "d_model": shape.get("d_model"), "n_block": shape.get("n_block"),
        "non_embedding_params": _number(shape.get("non_embedding_params")),
        "total_params": _number(shape.get("total_params")),
        "target_params": _number(shape.get("target_params") or rung_cfg.get("target_params")),
        "tokens_trained": trained, "context_length": rung_cfg.get("context_length"),
        "batch_tokens": rung_cfg.get("batch_tokens"),
        "corpus": data.get("corpus") or "", "tokenizer": data.get("tokenizer") or "",
        "vocab_size": data.get("vocab_size"), "epochs": _number(data.get("epochs")),
        "device": str(report.get("device") or ""), "seed": report.get("seed"),
        "tokens_per_s": _number(report.get("tokens_per_s")), "mfu": _number(report.get("mfu")),
        "peak_memory_bytes": _number(report.get("peak_memory_bytes")),
        "peak_memory_kind": str(report.get("peak_memory_kind") or ""),
        "final_train_loss": _number(report.get("final_train_loss")),
        "val_loss": _number(report.get("val_loss")), "val_perplexity": _number(report.get("val_perplexity")),
        "wall_total_s": _number(wall.get("total")),
        "wall_phases": [(str(k), _number(v)) for k, v in wall.items() if k != "total" and _number(v) is not None],
        "warnings": [str(w) for w in report.get("warnings") or [] if w],
        "failure": failure,
        "versions": _section(report, "versions"),
    }


def _section(report: dict, key: str) -> dict[str, Any]:
    value = report.get(key)
    return value if isinstance(value, dict) else {}


# Numbers an evaluation row carries that are not a score: a fallback must never read them as one
# (a perplexity-only task such as WikiText would otherwise show its perplexity as an "accuracy").
NOT_SCORES = ("stderr", "perplexity", "samples", "limit", "bits_per_byte", "n", "count", "seconds")


def _is_score_key(key: Any) -> bool:
    base = str(key).split(",")[0]
    return not any(base == word or base.endswith("_" + word) for word in NOT_SCORES)


def _score(value: Any) -> float | None:
    if isinstance(value, dict):
        for key in SCORE_KEYS:
            for k, v in value.items():  # lm-eval spells metrics "acc,none"
                if k.split(",")[0] == key and _number(v) is not None:
                    return _number(v)
        return next((_number(v) for k, v in value.items() if _number(v) is not None and _is_score_key(k)), None)
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


def task_results(report: dict | None) -> dict[str, Any]:
    raw = _dig(report, "eval", "evals", "tasks", "eval_results", "scores", "evaluation", "eval.results") \
        if isinstance(report, dict) else None
    if isinstance(raw, dict) and isinstance(raw.get("results"), dict):
        raw = raw["results"]
    return raw if isinstance(raw, dict) else {}


def _metric(row: dict, key: str) -> float | None:
    for k, v in row.items():
        if k.split(",")[0] == key:
            return _number(v)
    return None


def task_rows(report: dict | None, chance: Callable[[str], float | None] | None = None) -> list[dict[str, Any]]:
    """Per task what a reader needs to judge a score: the metric used (acc_norm where reported, as
    the fitness does), its value, standard error and sample count, the random-choice baseline and
    the score above it. `chance(task)` is a task's chance accuracy (None: not an accuracy task)."""
    raw = task_results(report)
    above = _section(report, "task_scores") if isinstance(report, dict) else {}
    rows: list[dict[str, Any]] = []
    for task, value in raw.items():
        row = value if isinstance(value, dict) else {"acc": value}
        metric = next((k for k in ("acc_norm", "acc") if _metric(row, k) is not None), None)
        score = _metric(row, metric) if metric else _score(row)
        if score is None:
            continue
        stderr = _metric(row, f"{metric}_stderr") if metric else None
        samples = _number(row.get("samples"))
        base = chance(str(task)) if chance is not None else None
        gain = _number(above.get(task)) if task in above else (score - base if base is not None else None)
        rows.append({"task": str(task), "metric": metric or "score", "value": score, "stderr": stderr,
                     "samples": int(samples) if samples is not None else None, "chance": base, "above": gain})
    return rows


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
