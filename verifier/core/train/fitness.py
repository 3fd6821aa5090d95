"""Fitness (Equation 1 of the paper): how far above chance a design scores, averaged.

Per task the score is accuracy minus the random-choice baseline (normalised accuracy where the
task reports it, as in the reference implementation); a rung's fitness is the mean over its
tasks; a design's fitness F is the mean over the rungs it was verified at, and its confidence is
the number of those rungs.
"""

from __future__ import annotations

import math
from typing import Any

from .ladder import baseline_for


def task_accuracy(result: dict[str, Any]) -> float | None:
    """acc_norm where present, else acc; None for tasks that report neither (perplexity only)."""
    for key in ("acc_norm", "acc"):
        value = result.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return None


def task_scores(eval_results: dict[str, dict[str, Any]], baselines: dict[str, float] | None = None) -> dict[str, float]:
    """Accuracy above chance per task, for the tasks that have both an accuracy and a baseline."""
    scores: dict[str, float] = {}
    for task, result in eval_results.items():
        accuracy = task_accuracy(result)
        baseline = baseline_for(task, baselines)
        if accuracy is not None and baseline is not None:
            scores[task] = accuracy - baseline
    return scores


def rung_fitness(eval_results: dict[str, dict[str, Any]], baselines: dict[str, float] | None = None) -> float:
    """Mean over tasks of (accuracy - random baseline). NaN if no task qualifies."""
    scores = task_scores(eval_results, baselines)
    return sum(scores.values()) / len(scores) if scores else math.nan


def design_fitness(per_rung: dict[str, float]) -> tuple[float, int]:
    """(F, confidence): the mean of the verified rungs' fitness and how many rungs that is."""
    verified = [f for f in per_rung.values() if f is not None and math.isfinite(f)]
    if not verified:
        return math.nan, 0
    return sum(verified) / len(verified), len(verified)
