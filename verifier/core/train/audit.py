"""The parent's check of a verification report before any number is taken from it.

The report is written by the design's own process, so the parent treats it as untrusted: it reads it
through the shared schema (`VerificationReport.from_dict`), checks every raw result against what the
rung could have produced (its tasks, its document limits, accuracies in [0, 1] that are k/n, the
stderr lm-eval computes for that n, log-probabilities <= 0, losses that agree with each other), and
checks that the claimed numbers (task scores, fitness) are what the raw results give. Anything else
is refused with a reason; the fitness the evolution uses is then recomputed by `fitness.py`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .fitness import SCREEN_RUNG, rung_fitness, task_scores
from .ladder import Rung, stock_name
from .report import VerificationReport

# lm-eval groups among the rung tasks, and how many subtasks each pools (the limit is per subtask).
GROUP_SIZES = {"blimp": 67}
ACCURACY_KEYS = ("acc", "acc_norm")
TOLERANCE = 1e-6  # claimed vs recomputed numbers
STDERR_TOLERANCE = 1e-3  # reported vs lm-eval's stderr formula (reports may round)


class ReportRejected(ValueError):
    """A report whose raw results are missing, impossible or inconsistent with its claims."""


def read_report(data: Any) -> VerificationReport:
    """The report through the schema; a clear error when it is not one."""
    if not isinstance(data, Mapping):
        raise ReportRejected("the report is not a JSON object")
    try:
        report = VerificationReport.from_dict(dict(data))
    except TypeError as exc:
        missing = [k for k in ("design_name", "design_hash", "rung") if k not in data]
        raise ReportRejected(f"not a verification report (missing {', '.join(missing) or exc})") from exc
    for name in ("eval", "components", "task_scores"):
        value = getattr(report, name)
        if not isinstance(value, dict) or (name != "task_scores" and not all(isinstance(v, dict) for v in value.values())):
            raise ReportRejected(f"{name} must be an object of objects")
    return report


def audit_report(data: Any, rung: Rung | None, *, rung_name: str, design_hash: str | None = None) -> VerificationReport:
    """Check a report against its rung (`rung` None: the screen, which has no ladder entry here)
    and return it; raises ReportRejected with the first problem found."""
    report = read_report(data)
    if report.rung != rung_name:
        raise ReportRejected(f"the report is for rung {report.rung!r}, the verification for {rung_name!r}")
    if design_hash and report.design_hash and report.design_hash != design_hash:
        raise ReportRejected(f"the report is for design {report.design_hash}, not {design_hash}")
    if rung is not None:
        _check_definition(report, rung)
        _check_tasks(report, rung)
    _check_components(report.components)
    _check_screen_raw(report)
    _check_losses(report)
    _check_claims(report)
    return report


# The fields that decide what a rung's numbers mean. The screen was redefined twice (#12): a report
# made under an earlier definition (a job queued before an upgrade, a worker on older code) measures
# something else and is not stored under the rung's name.
DEFINING_FIELDS = ("d_model", "n_block", "context_length", "batch_tokens", "total_steps", "schedule_steps", "lr")


def _check_definition(report: VerificationReport, rung: Rung) -> None:
    claimed = report.config.get("rung") if isinstance(report.config, Mapping) else None
    if not isinstance(claimed, Mapping):
        return  # a report that states no definition: there is nothing to compare
    current = rung.to_dict()
    differ = [f"{key} {repr(claimed[key])[:40]} (now {current[key]!r})" for key in DEFINING_FIELDS
              if key in claimed and claimed[key] != current[key]]  # the claim is untrusted: cut short
    if differ:
        raise ReportRejected(f"the report was made under another definition of rung {rung.name}: "
                             + ", ".join(differ))


def _check_tasks(report: VerificationReport, rung: Rung) -> None:
    allowed = {stock_name(t): t for t in rung.tasks}
    for task, row in report.eval.items():
        stock = stock_name(task)
        if stock not in allowed:
            raise ReportRejected(f"task {task!r} is not run at rung {rung.name}")
        group = GROUP_SIZES.get(stock, 1)
        limit = rung.limit_for(allowed[stock])
        n = _count(row, "samples", task)
        docs = _count(row, "docs", task)
        for name, value in (("samples", n), ("docs", docs)):
            if value is not None and limit is not None and value > limit * group:
                raise ReportRejected(f"{task}: {value} {name} is more than the rung's limit ({limit * group})")
        if n is not None and docs is not None and docs > n:
            raise ReportRejected(f"{task}: {docs} docs scored but only {n} samples")
        for key in ACCURACY_KEYS:
            if key in row:
                _check_accuracy(task, key, row, n, grouped=group > 1)
        _check_likelihood(task, row)


def _check_accuracy(task: str, key: str, row: Mapping[str, Any], n: int | None, grouped: bool) -> None:
    p = _number(row, key, task)
    if p is None:
        return
    if not 0.0 <= p <= 1.0:
        raise ReportRejected(f"{task}: {key} = {p} is outside [0, 1]")
    stderr = _number(row, f"{key}_stderr", task)
    if stderr is not None and stderr < 0:
        raise ReportRejected(f"{task}: {key}_stderr = {stderr} is negative")
    if grouped or n is None:
        if stderr is not None and stderr > 0.5:
            raise ReportRejected(f"{task}: {key}_stderr = {stderr} is impossible for an accuracy")
        return
    if n < 1:
        raise ReportRejected(f"{task}: {n} samples")
    if abs(p * n - round(p * n)) > 1e-6 * max(1.0, n):
        raise ReportRejected(f"{task}: {key} = {p} is not a whole number of {n} documents")
    if stderr is not None and n >= 2:
        expected = math.sqrt(p * (1 - p) / (n - 1))
        if abs(stderr - expected) > STDERR_TOLERANCE:
            raise ReportRejected(f"{task}: {key}_stderr = {stderr:.4g} is impossible for {key} = {p:.4g} "
                                 f"over {n} documents (expected {expected:.4g})")


def _check_likelihood(task: str, row: Mapping[str, Any]) -> None:
    logprob = _number(row, "logprob_per_byte", task)
    if logprob is not None and logprob > 1e-9:
        raise ReportRejected(f"{task}: logprob_per_byte = {logprob} is a positive log-probability")
    _number(row, "margin", task)
    for key in ("logprob_per_byte_stderr", "margin_stderr"):
        value = _number(row, key, task)
        if value is not None and value < 0:
            raise ReportRejected(f"{task}: {key} = {value} is negative")


def _check_components(components: Mapping[str, Mapping[str, Any]]) -> None:
    for name, comp in components.items():
        if _number(comp, "value", name) is None and comp.get("value") is not None:
            raise ReportRejected(f"component {name}: value is not a number")
        for key in ("stderr", "weight"):
            value = _number(comp, key, f"component {name}")
            if value is not None and value < 0:
                raise ReportRejected(f"component {name}: {key} = {value} is negative")


def _check_screen_raw(report: VerificationReport) -> None:
    """The screen's raw numbers must be possible: probe accuracies and chance levels in [0, 1], and
    the language-model component's bpb the report's own val_bpb."""
    for name, comp in report.components.items():
        if name.startswith("probe_"):
            for key in ("accuracy", "chance"):
                value = _number(comp, key, f"component {name}")
                if value is not None and not 0.0 <= value <= 1.0:
                    raise ReportRejected(f"component {name}: {key} = {value} is not in [0, 1]")
        elif name == "lm_bpb":
            bpb = _number(comp, "bpb", f"component {name}")
            if bpb is not None and (bpb <= 0 or (report.val_bpb is not None
                                                 and not math.isclose(bpb, report.val_bpb, rel_tol=1e-6))):
                raise ReportRejected(f"component lm_bpb: bpb {bpb} is not the report's val_bpb {report.val_bpb}")


def _check_losses(report: VerificationReport) -> None:
    for name in ("val_loss", "val_perplexity", "val_bpb", "val_bytes_per_token", "final_train_loss"):
        value = getattr(report, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ReportRejected(f"{name} = {value!r} is not a non-negative number")
    loss, ppl = report.val_loss, report.val_perplexity
    if loss is not None and ppl is not None and loss < 50 and not math.isclose(ppl, math.exp(loss), rel_tol=1e-4):
        raise ReportRejected(f"val_perplexity {ppl} is not exp(val_loss {loss})")
    bpb, bpt = report.val_bpb, report.val_bytes_per_token
    if loss is not None and bpb is not None and bpt:
        expected = loss / math.log(2) / bpt
        if not math.isclose(bpb, expected, rel_tol=1e-4):
            raise ReportRejected(f"val_bpb {bpb} is not val_loss / ln 2 / bytes per token ({expected:.6g})")


def _check_claims(report: VerificationReport) -> None:
    """The numbers the process claims must be what its raw results give."""
    claimed_scores = report.task_scores
    recomputed = task_scores(report.eval)
    for task, value in claimed_scores.items():
        if task not in recomputed or not _close(value, recomputed[task]):
            raise ReportRejected(f"claimed score of {task} ({value}) differs from its raw results "
                                 f"({recomputed.get(task)})")
    if report.rung == SCREEN_RUNG:
        from verifier.core.screen.run import rescore

        expected: float | None = rescore(dict(report.components))[1]
    else:
        eq1 = rung_fitness(report.eval)
        expected = eq1 if math.isfinite(eq1) else None
    claimed = report.fitness
    if claimed is None:
        return  # nothing claimed; the parent computes its own
    if expected is None or not _close(claimed, expected):
        raise ReportRejected(f"claimed fitness {claimed} differs from the one its raw results give ({expected})")


def _close(a: Any, b: float) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and abs(float(a) - b) <= TOLERANCE


def _number(row: Mapping[str, Any], key: str, where: str) -> float | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ReportRejected(f"{where}: {key} = {value!r} is not a finite number")
    return float(value)


def _count(row: Mapping[str, Any], key: str, where: str) -> int | None:
    value = row.get(key)
    if isinstance(value, list):
        return len(value)
    number = _number(row, key, where)
    if number is None:
        return None
    if number != int(number) or number < 0:
        raise ReportRejected(f"{where}: {key} = {value!r} is not a count")
    return int(number)
