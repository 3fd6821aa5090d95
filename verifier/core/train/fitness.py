"""Fitness, written down: a rung's fitness as a function of its report, its standard error, how a
design's F combines its rungs, and the paired test that says whether one design beat another.

Rung fitness (one number per verification, in the rung's own unit, higher is better):

- ``accuracy`` (Equation 1 of the paper; default at the GPU rungs): the mean over the rung's
  accuracy tasks of accuracy minus the random-choice baseline (acc_norm where the task reports it).
  Its stderr is sqrt(sum_t se_t^2) / T, with se_t = sqrt(p (1 - p) / (n - 1)) recomputed from the
  accuracy p and the document count n (lm-eval's own formula), the reported stderr for a group.
- ``likelihood`` (default at the CPU rungs, where accuracy is at chance): the mean over the
  multiple-choice tasks of the mean per-byte log-probability of the correct continuation
  (``logprob_per_byte``, nats per byte, <= 0), stderr as above from ``logprob_per_byte_stderr``.
- ``bpb``: minus the validation bits per byte (tokenizer-independent); no within-run stderr.
- ``screen`` (the screen rung, unless the run selects on bpb or verifies only at CPU rungs above
  the screen, see ``metric_for``): ``verifier.core.screen.score.screen_score(components)``.

A design's F never averages these units: each rung value is turned into a z-score within the
population verified at that rung with the same metric, z = (f - mean) / sd, and F is the mean of the
design's z-scores (weight 1 per rung, as Eq. 1 averages rungs). Its std is sqrt(sum_r zse_r^2) / R,
zse = sqrt(stderr^2 + noise^2) / sd, where noise is the rung's seed-to-seed std when known (None,
and so an F std of None, when neither is known). A rung with one design (or all tied) gives z = 0
with zse = 1, the spread of a z-score: where the design stands there is not known yet.

The paired comparison (same rung, same metric, the same tasks with the same document counts):
d_t = child_t - parent_t, D = sum_t w_t d_t / W (W = sum_t w_t), and
se(D)^2 = sum_t w_t^2 (se_c,t^2 + se_p,t^2) / W^2 + 2 noise^2; "better" only when D - 1.96 se > 0,
"worse" when D + 1.96 se < 0, else "unclear". Treating the two designs' task errors as independent
ignores the positive correlation of scores on the same documents, so the test is conservative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .ladder import baseline_for

METRICS = ("accuracy", "likelihood", "bpb")  # selectable per run; the screen uses "screen", or "bpb" when chosen
DEFAULT_METRIC = "default"  # accuracy at GPU rungs, likelihood at CPU rungs; at the screen: see metric_for
SCREEN_RUNG = "screen"
Z_95 = 1.96


def metric_for(rung: str, device: str, choice: str = DEFAULT_METRIC, gpu_above: bool = True) -> str:
    """The metric a rung's fitness uses under a run's choice ("default" or one of METRICS).

    At the screen, `gpu_above` says whether the run verifies at a GPU rung above it. A run that
    selects on bpb selects on the screen's own bpb too. By default, a run whose rungs above the
    screen are all CPU rungs (micro, tiny) selects on the screen's bpb as well: on 23 designs its
    ranking agreed with tiny's validation loss at rho +0.71 and with micro's at +0.95, where the
    combined score gave +0.63 (the rule registered beforehand, docs/VERIFIER.md "Rank agreement").
    A run with GPU rungs keeps the combined score: its probes agree with the published order of
    the seeds at 125M and up (5 of 5 pairs), which no loss at the CPU rungs does."""
    if rung == SCREEN_RUNG:
        if choice == "bpb" or choice == DEFAULT_METRIC and not gpu_above:
            return "bpb"
        return "screen"
    if choice == DEFAULT_METRIC:
        return "likelihood" if device == "cpu" else "accuracy"
    if choice not in METRICS:
        raise ValueError(f"unknown fitness metric {choice!r}; choose {DEFAULT_METRIC} or one of {', '.join(METRICS)}")
    return choice


# ---- Equation 1, as the verifier writes it into its own report -----------------------------------

def task_accuracy(result: Mapping[str, Any]) -> float | None:
    """acc_norm where present, else acc; None for tasks that report neither (perplexity only)."""
    return accuracy_of(result)[1]


def accuracy_of(result: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """(metric, value) of the accuracy the fitness uses: acc_norm where the task reports it, else acc."""
    for key in ("acc_norm", "acc"):
        value = _opt_float(result.get(key))
        if value is not None:
            return key, value
    return None, None


def task_scores(eval_results: Mapping[str, Mapping[str, Any]], baselines: dict[str, float] | None = None) -> dict[str, float]:
    """Accuracy above chance per task, for the tasks that have both an accuracy and a baseline."""
    scores: dict[str, float] = {}
    for task, result in eval_results.items():
        accuracy = task_accuracy(result)
        baseline = baseline_for(task, baselines)
        if accuracy is not None and baseline is not None:
            scores[task] = accuracy - baseline
    return scores


def rung_fitness(eval_results: Mapping[str, Mapping[str, Any]], baselines: dict[str, float] | None = None) -> float:
    """Mean over tasks of (accuracy - random baseline). NaN if no task qualifies."""
    scores = task_scores(eval_results, baselines)
    return sum(scores.values()) / len(scores) if scores else math.nan


def design_fitness(per_rung: dict[str, float]) -> tuple[float, int]:
    """(mean, count) of finite per-rung values: the paper's F, kept for the CLI's single-rung use.
    The evolution combines rungs with `combine` instead (rung units differ)."""
    verified = [f for f in per_rung.values() if f is not None and math.isfinite(f)]
    if not verified:
        return math.nan, 0
    return sum(verified) / len(verified), len(verified)


# ---- rung fitness with its standard error ---------------------------------------------------------

@dataclass(frozen=True)
class Part:
    """One task (or screen component) of a rung's fitness: value, standard error, documents, weight."""

    value: float
    stderr: float | None = None
    n: int | None = None
    weight: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "stderr": self.stderr, "n": self.n, "weight": self.weight}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Part:
        return cls(float(data["value"]), _opt_float(data.get("stderr")), data.get("n"), float(data.get("weight", 1.0)))


@dataclass
class RungFitness:
    metric: str
    value: float | None
    stderr: float | None
    parts: dict[str, Part] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "stderr": self.stderr,
                "parts": {k: p.to_dict() for k, p in self.parts.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RungFitness:
        return cls(str(data["metric"]), _opt_float(data.get("value")), _opt_float(data.get("stderr")),
                   {k: Part.from_dict(p) for k, p in (data.get("parts") or {}).items()})


def binomial_stderr(p: float, n: int) -> float | None:
    """lm-eval's stderr of a mean of 0/1 outcomes: sqrt(p (1 - p) / (n - 1)); None for n < 2."""
    return math.sqrt(max(p * (1 - p), 0.0) / (n - 1)) if n >= 2 else None


def accuracy_parts(eval_results: Mapping[str, Mapping[str, Any]], groups: Iterable[str] = ()) -> dict[str, Part]:
    """Accuracy above chance per task; the stderr recomputed from p and n, except for groups (whose
    accuracy pools subtasks), where the reported stderr is used."""
    groups = set(groups)
    parts: dict[str, Part] = {}
    for task, row in eval_results.items():
        key, acc = accuracy_of(row)
        chance = baseline_for(task)
        if acc is None or chance is None:
            continue
        n = _count(row.get("samples"))
        reported = _opt_float(row.get(f"{key}_stderr"))
        grouped = task in groups or task.removesuffix("_local") in groups
        stderr = reported if grouped or n is None else binomial_stderr(acc, n)
        parts[task] = Part(acc - chance, stderr, n)
    return parts


def likelihood_parts(eval_results: Mapping[str, Mapping[str, Any]]) -> dict[str, Part]:
    """Mean per-byte log-probability of the correct choice per multiple-choice task."""
    return {
        task: Part(float(row["logprob_per_byte"]), _opt_float(row.get("logprob_per_byte_stderr")), _count(row.get("docs")))
        for task, row in eval_results.items() if _finite(row.get("logprob_per_byte"))
    }


def mean_of(parts: Mapping[str, Part]) -> tuple[float | None, float | None]:
    """Weighted mean of the parts and its stderr (independent parts); stderr None if any is unknown."""
    total = sum(p.weight for p in parts.values() if p.weight > 0)
    if total <= 0:
        return None, None
    value = sum(p.weight * p.value for p in parts.values() if p.weight > 0) / total
    weighted = [(p.weight, p.stderr) for p in parts.values() if p.weight > 0]
    errors = [w * e for w, e in weighted if e is not None]
    if len(errors) < len(weighted):
        return value, None
    return value, math.sqrt(sum(e * e for e in errors)) / total


def compute_rung_fitness(metric: str, eval_results: Mapping[str, Mapping[str, Any]], *, val_bpb: float | None = None,
                         components: Mapping[str, Mapping[str, Any]] | None = None,
                         groups: Iterable[str] = ()) -> RungFitness:
    """A rung's fitness under `metric` from the raw results; value None when the report lacks them."""
    if metric == "accuracy":
        parts = accuracy_parts(eval_results, groups)
    elif metric == "likelihood":
        parts = likelihood_parts(eval_results)
    elif metric == "bpb":
        parts = {"val_bpb": Part(-val_bpb)} if val_bpb is not None and _finite(val_bpb) else {}
    elif metric == "screen":
        from verifier.core.screen.run import rescore

        # Values and weights are recomputed from the raw numbers with this process's rung (reference
        # bpb, measured noise): a report's own "value" fields are never taken.
        comps, value, stderr = rescore({name: dict(comp) for name, comp in (components or {}).items()})
        parts = {name: Part(float(c["value"]), _opt_float(c.get("stderr")), _count(c.get("n")),
                            float(c.get("weight", 1.0) or 0.0))
                 for name, c in comps.items() if _finite(c.get("value"))}
        return RungFitness(metric, value, stderr, parts)
    else:
        raise ValueError(f"unknown fitness metric {metric!r}")
    value, stderr = mean_of(parts)
    return RungFitness(metric, value, stderr, parts)


# ---- a design's F from its rungs ------------------------------------------------------------------

@dataclass(frozen=True)
class RungStats:
    """The population verified at one rung with one metric: mean, std, count."""

    mean: float
    sd: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> RungStats:
        n = len(values)
        mean = sum(values) / n if n else 0.0
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n >= 2 else 0.0
        return cls(mean, sd, n)


@dataclass(frozen=True)
class RungTerm:
    """One row of "how F was made": the rung's raw value, its z-score and the weight it got."""

    rung: str
    metric: str
    value: float
    stderr: float | None
    z: float
    z_std: float | None
    weight: float
    population: int

    @property
    def half_width(self) -> float | None:
        return Z_95 * self.stderr if self.stderr is not None else None

    @property
    def z_half_width(self) -> float | None:
        return Z_95 * self.z_std if self.z_std is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"rung": self.rung, "metric": self.metric, "value": self.value, "stderr": self.stderr, "z": self.z,
                "z_std": self.z_std, "weight": self.weight, "population": self.population}


@dataclass(frozen=True)
class Combined:
    fitness: float | None
    std: float | None
    terms: tuple[RungTerm, ...] = ()

    @property
    def half_width(self) -> float | None:
        """Half the 95% interval of F (None when its std is unknown)."""
        return Z_95 * self.std if self.std is not None else None

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.fitness is None or self.half_width is None:
            return None
        return self.fitness - self.half_width, self.fitness + self.half_width


def z_term(rung: str, metric: str, value: float, stderr: float | None, stats: RungStats,
           noise: float | None = None) -> RungTerm:
    """The rung value as a z-score within its population; 0 where the population has no spread."""
    scale = stats.sd if stats.n >= 2 and stats.sd > 0 else None
    if scale is None:  # nothing to stand against: z = 0 with the prior spread of a z-score, 1
        return RungTerm(rung, metric, value, stderr, 0.0, 1.0, 1.0, stats.n)
    error = None if stderr is None and noise is None else math.hypot(stderr or 0.0, noise or 0.0)
    return RungTerm(rung, metric, value, stderr, (value - stats.mean) / scale,
                    None if error is None else error / scale, 1.0, stats.n)


def combine(terms: list[RungTerm]) -> Combined:
    """F = weighted mean of the rung z-scores; std from their z_std (None if any is unknown)."""
    if not terms:
        return Combined(None, None, ())
    total = sum(t.weight for t in terms)
    fitness = sum(t.weight * t.z for t in terms) / total
    errors = [t.weight * t.z_std for t in terms if t.z_std is not None]
    std = math.sqrt(sum(e * e for e in errors)) / total if len(errors) == len(terms) else None
    return Combined(fitness, std, tuple(terms))


# ---- paired comparison ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    verdict: str  # "better" | "worse" | "unclear" | "not comparable"
    difference: float | None = None
    stderr: float | None = None
    shared: int = 0  # tasks (or components) compared
    reason: str = ""


def paired_comparison(child: RungFitness, parent: RungFitness, noise: float | None = None) -> Comparison:
    """Child minus parent on the parts both measured on the same documents (same metric, same n)."""
    if child.metric != parent.metric:
        return Comparison("not comparable", reason=f"metrics differ ({child.metric} vs {parent.metric})")
    shared = [k for k in child.parts if k in parent.parts and child.parts[k].n == parent.parts[k].n]
    if not shared:
        return Comparison("not comparable", reason="no task measured on the same documents")
    total = sum(child.parts[k].weight for k in shared)
    if total <= 0:
        return Comparison("not comparable", reason="no weighted part")
    diff = sum(child.parts[k].weight * (child.parts[k].value - parent.parts[k].value) for k in shared) / total
    variances = [(child.parts[k].weight ** 2) * (child.parts[k].stderr ** 2 + parent.parts[k].stderr ** 2)  # type: ignore[operator]
                 for k in shared if child.parts[k].stderr is not None and parent.parts[k].stderr is not None]
    known = len(variances) == len(shared)
    if not known and noise is None:
        return Comparison("unclear", diff, None, len(shared), "no standard error for this metric")
    var = (sum(variances) / total ** 2 if known else 0.0) + 2 * (noise or 0.0) ** 2
    se = math.sqrt(var)
    if diff - Z_95 * se > 0:
        verdict = "better"
    elif diff + Z_95 * se < 0:
        verdict = "worse"
    else:
        verdict = "unclear"
    return Comparison(verdict, diff, se, len(shared))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _opt_float(value: Any) -> float | None:
    return float(value) if _finite(value) else None


def _count(value: Any) -> int | None:
    if isinstance(value, list):
        return len(value)
    return int(value) if _finite(value) and float(value) == int(value) else None
