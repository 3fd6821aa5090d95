"""Likelihood-based task scores: continuous numbers that still rank tiny models (DataDecide, arXiv 2504.11393).

At tiny scale accuracy sits at chance and a design's rank is noise; the log-probability the model
gives the correct answer keeps moving. From the same loglikelihood calls lm-eval makes for a task
(its per-document samples), per document:

- logprob_per_byte = log P(correct continuation) / UTF-8 bytes of that continuation (nats per byte);
- margin = that value minus the best wrong choice's log P(wrong) / bytes(wrong) (multiple choice only).

The continuation is the string lm-eval scores (the choice after its target delimiter, e.g.
" answer"; for WinoGrande's multiple contexts the shared ending), so the bytes are those of the
tokens scored. A task's row gets each score's mean over documents and its standard error
(sample standard deviation / sqrt(n); None for one document), plus `docs`. A group (BLiMP) pools
the documents of all its subtasks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

SCORE_KEYS = ("logprob_per_byte", "margin")


def gold_index(task: Any, doc: dict) -> int | None:
    """The correct choice of a multiple-choice document, by lm-eval's own rule (None: invalid label)."""
    gold = task.doc_to_text(doc) if getattr(task, "multiple_input", 0) else task.doc_to_target(doc)
    if isinstance(gold, list):  # several correct answers: score against the first
        gold = gold[0] if gold else None
    if isinstance(gold, str):
        choices = task.doc_to_choice(doc)
        gold = choices.index(gold) if gold in choices else None
    return gold if isinstance(gold, int) else None


def _per_byte(loglikelihood: float, continuation: str) -> float:
    n_bytes = len(continuation.encode("utf-8"))
    if n_bytes == 0:
        raise ValueError("an empty continuation has no per-byte log-probability")
    return loglikelihood / n_bytes


def document_scores(sample: Mapping[str, Any], output_type: str, gold: int | None) -> dict[str, float] | None:
    """The scores of one logged lm-eval sample (None when the document has no valid answer)."""
    if output_type not in ("loglikelihood", "multiple_choice"):
        return None  # perplexity (rolling) tasks report their own per-byte figures
    arguments = sample["arguments"]
    lls = [float(resp[0]) for resp in sample["filtered_resps"]]
    if output_type == "loglikelihood":
        return {"logprob_per_byte": _per_byte(lls[0], arguments[0][1])}
    if gold is None or not 0 <= gold < len(lls):
        return None
    per_byte = [_per_byte(ll, args[1]) for ll, args in zip(lls, arguments, strict=True)]
    wrong = [v for i, v in enumerate(per_byte) if i != gold]
    scores = {"logprob_per_byte": per_byte[gold]}
    if wrong:
        scores["margin"] = per_byte[gold] - max(wrong)
    return scores


def mean_and_stderr(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, None
    var = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var / len(values))


def aggregate(per_doc: Iterable[dict[str, float]]) -> dict[str, Any]:
    """Mean and standard error of each score over documents, and the number of documents."""
    docs = list(per_doc)
    row: dict[str, Any] = {"docs": len(docs)}
    for key in SCORE_KEYS:
        values = [d[key] for d in docs if key in d]
        if values:
            row[key], row[f"{key}_stderr"] = mean_and_stderr(values)
    return row


def task_document_scores(samples: list[Mapping[str, Any]], task: Any) -> list[dict[str, float]]:
    """Per-document scores of one lm-eval task from its logged samples."""
    output_type = task.OUTPUT_TYPE
    out = []
    for sample in samples:
        gold = gold_index(task, sample["doc"]) if output_type == "multiple_choice" else None
        scores = document_scores(sample, output_type, gold)
        if scores is not None:
            out.append(scores)
    return out


def likelihood_rows(results: Mapping[str, Any], tasks: Mapping[str, Any], names: Iterable[str]) -> dict[str, dict]:
    """Scores per requested task or group name, from `simple_evaluate(..., log_samples=True)` results
    and the leaf Task objects by name. Tasks without such scores (perplexity) get no row."""
    samples = results.get("samples", {})
    subtasks = results.get("group_subtasks", {})

    def leaves(name: str) -> list[str]:
        if name in subtasks:
            return [leaf for sub in subtasks[name] for leaf in leaves(sub)]
        return [name]

    rows = {}
    for name in names:
        per_doc = [d for leaf in leaves(name) if leaf in tasks and leaf in samples
                   for d in task_document_scores(samples[leaf], tasks[leaf])]
        if per_doc:
            rows[name] = aggregate(per_doc)
    return rows
