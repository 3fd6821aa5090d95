"""How an evolution run's population fitness moves (the paper's Table 2), written down as formulas.

The input is one rung's fitness values (one unit: never mix rungs or metrics) of the population's
designs in the order the run made them, after the initial population (the seeds) it started from.

Population curve. The population after k designs is the initial population plus the first k designs
that have a fitness (the whole evolution tree: Genesys keeps every design and selects from all of
them, so nothing leaves the population). P_k is its mean fitness and M_k its max, k = 0 … n, where
P_0, M_0 are the initial population's (the first design's when there is no initial population).

Metrics of a curve y_0 … y_n, with the increments ("returns") r_k = y_k - y_{k-1}, k = 1 … n:

- Δ = P_n - P_0 and Δmax = M_n - M_0: how much the mean and the best moved over the first n designs,
  in the rung's own unit (not in percent: a likelihood fitness is ≤ 0 and z-scores sit around 0, so
  a ratio to the start would change sign or explode).
- volatility σ = sample standard deviation of the r_k (n - 1 in the denominator; None for n < 2).
- Sharpe ratio S = mean(r) / σ, with no risk-free rate and no annualisation (a design is the step).
  With σ = 0 the ratio is 0 when mean(r) = 0 (a flat curve: nothing gained, nothing risked) and None
  (undefined, shown as "–") when every step gained the same non-zero amount.
- maximum drawdown D = max_k (max_{j≤k} y_j - y_k) ≥ 0 on the mean curve: the largest fall from a
  previous peak, in the rung's unit (0 for a curve that never falls; None for an empty one).

The paper gives the names, not the formulas: these are the textbook definitions applied to the curve
of the population's mean fitness, with a design in place of a trading day.

Noise (`bootstrap`, vectorised with numpy): the run's designs are resampled with replacement, kept in the order they were
made (sorted draw of indices), each fitness redrawn as f + se · N(0, 1) when its standard error is
known; every metric and the mean curve are recomputed per resample. Bands are the 2.5 and 97.5
percentiles of the resampled curves; two runs differ beyond the noise on a metric when the 95%
percentile interval of (b* - a*) over paired resamples excludes 0 (`compare`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

METRIC_NAMES = ("delta", "delta_max", "sharpe", "volatility", "max_drawdown", "final_mean", "final_max")
LABELS = {
    "delta": "Δ (population mean)", "delta_max": "Δmax (best)", "sharpe": "Sharpe ratio", "volatility": "volatility",
    "max_drawdown": "maximum drawdown", "final_mean": "population mean", "final_max": "best fitness",
    "valid_design_rate": "valid-design rate", "design_error_rate": "error rate: design",
    "check_error_rate": "error rate: check", "verify_error_rate": "error rate: verify",
}
DEFAULT_RESAMPLES = 400
LEVEL = 0.95
MIN_VERDICT_N = 5  # fewer designs (or outcomes) per run than this: no verdict, the bootstrap is too coarse


# ---- curves -----------------------------------------------------------------------------------------

def cumulative_mean(values: Sequence[float], initial: Sequence[float] = ()) -> list[float]:
    """P_0 … P_n: the running mean (an update that neither overflows nor drifts on long series)."""
    out: list[float] = []
    mean, count = 0.0, 0
    for x in initial:
        count += 1
        mean = mean - mean / count + x / count  # in this order so that ±1e308 never overflows
    if count:
        out.append(mean)
    for x in values:
        count += 1
        mean = mean - mean / count + x / count
        out.append(mean)
    return out


def cumulative_max(values: Sequence[float], initial: Sequence[float] = ()) -> list[float]:
    """M_0 … M_n: the best so far."""
    out: list[float] = []
    best = max(initial) if initial else None
    if best is not None:
        out.append(best)
    for x in values:
        best = x if best is None or x > best else best
        out.append(best)
    return out


def increments(curve: Sequence[float]) -> list[float]:
    return [b - a for a, b in zip(curve, curve[1:], strict=False)]


# ---- the metrics of one curve ---------------------------------------------------------------------

def delta(curve: Sequence[float]) -> float | None:
    """Last minus first; None for an empty curve, 0 for one point."""
    return curve[-1] - curve[0] if curve else None


def _mean_std(xs: Sequence[float]) -> tuple[float, float | None]:
    """Welford's mean and sample standard deviation (None below two values)."""
    mean, m2 = 0.0, 0.0
    for i, x in enumerate(xs, 1):
        d = x - mean
        mean += d / i
        m2 += d * (x - mean)
    return mean, (math.sqrt(max(m2, 0.0) / (len(xs) - 1)) if len(xs) > 1 else None)


def volatility(curve: Sequence[float]) -> float | None:
    """Sample standard deviation of the increments; None with fewer than two increments."""
    return _mean_std(increments(curve))[1]


def sharpe_ratio(curve: Sequence[float]) -> float | None:
    """Mean increment over its standard deviation (0 for a flat curve; None when undefined)."""
    steps = increments(curve)
    mean, std = _mean_std(steps)
    if std is None:
        return None
    if std == 0:
        return 0.0 if mean == 0 else None
    return mean / std


def max_drawdown(curve: Sequence[float]) -> float | None:
    """The largest fall from a previous peak (≥ 0); None for an empty curve."""
    if not curve:
        return None
    peak, worst = curve[0], 0.0
    for y in curve:
        peak = y if y > peak else peak
        worst = max(worst, peak - y)
    return worst


@dataclass
class CurveMetrics:
    n: int  # designs after the initial population
    initial: int  # designs in the initial population
    start_mean: float | None
    final_mean: float | None
    final_max: float | None
    delta: float | None
    delta_max: float | None
    sharpe: float | None
    volatility: float | None
    max_drawdown: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def curve_metrics(values: Sequence[float], initial: Sequence[float] = (), first_n: int | None = None) -> CurveMetrics:
    """Table 2's metrics of the population over its first `first_n` designs (all when None)."""
    if first_n is not None and first_n < 0:
        raise ValueError(f"first_n must be ≥ 0, got {first_n}")
    values = list(values if first_n is None else values[:first_n])
    means = cumulative_mean(values, initial)
    maxes = cumulative_max(values, initial)
    return CurveMetrics(
        n=len(values), initial=len(initial),
        start_mean=means[0] if means else None, final_mean=means[-1] if means else None,
        final_max=maxes[-1] if maxes else None,
        delta=delta(means), delta_max=delta(maxes), sharpe=sharpe_ratio(means),
        volatility=volatility(means), max_drawdown=max_drawdown(means),
    )


# ---- noise ------------------------------------------------------------------------------------------

@dataclass
class Bootstrap:
    """Resampled metrics (one list per metric, `resamples` long, None where undefined) and the mean
    curve's pointwise band."""

    resamples: int
    metrics: dict[str, list[float | None]] = field(default_factory=dict)
    band_low: list[float] = field(default_factory=list)
    band_high: list[float] = field(default_factory=list)

    def interval(self, name: str, level: float = LEVEL) -> tuple[float, float] | None:
        return percentile_interval([v for v in self.metrics.get(name, []) if v is not None], level)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 1]."""
    if not sorted_values:
        raise ValueError("percentile of nothing")
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def percentile_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float] | None:
    if not values:
        return None
    s = sorted(values)
    tail = (1 - level) / 2
    return percentile(s, tail), percentile(s, 1 - tail)


def bootstrap(values: Sequence[float], stderrs: Sequence[float | None] | None = None, initial: Sequence[float] = (),
              resamples: int = DEFAULT_RESAMPLES, rng: random.Random | None = None) -> Bootstrap:
    """Resample the run's designs (in their order) and their measurement noise; see the module doc.
    Vectorised (numpy) in blocks of resamples: each row is `curve_metrics` of one resample."""
    rng = rng or random.Random(0)
    n = len(values)
    given = list(stderrs) if stderrs is not None else [None] * n
    if len(given) != n:
        raise ValueError(f"{n} values but {len(given)} standard errors")
    out = Bootstrap(resamples=resamples, metrics={name: [] for name in METRIC_NAMES})
    if n == 0 or resamples <= 0:
        m = curve_metrics([], initial)
        for name in METRIC_NAMES:
            out.metrics[name] = [getattr(m, name)] * max(resamples, 0)
        curve = cumulative_mean([], initial)
        out.band_low, out.band_high = list(curve), list(curve)
        return out
    gen = np.random.default_rng(rng.getrandbits(64))
    vals = np.asarray(values, dtype=float)
    errs = np.asarray([e if e is not None and e > 0 else 0.0 for e in given], dtype=float)
    block = max(1, min(resamples, 2_000_000 // n))
    curves = []
    for done in range(0, resamples, block):
        rows = min(block, resamples - done)
        picks = np.sort(gen.integers(0, n, size=(rows, n)), axis=1)
        drawn = vals[picks] + errs[picks] * gen.standard_normal((rows, n))
        metrics, means = _block_metrics(drawn, initial)
        for name in METRIC_NAMES:
            out.metrics[name].extend(metrics[name])
        curves.append(means)
    all_means = np.concatenate(curves, axis=0)
    low, high = np.percentile(all_means, [100 * (1 - LEVEL) / 2, 100 * (1 - (1 - LEVEL) / 2)], axis=0)
    out.band_low, out.band_high = low.tolist(), high.tolist()
    return out


def _block_metrics(drawn: np.ndarray, initial: Sequence[float]) -> tuple[dict[str, list[float | None]], np.ndarray]:
    """`curve_metrics` of each row of `drawn` (resamples × designs), and the rows' mean curves."""
    rows, n = drawn.shape
    k0 = len(initial)
    counts = np.arange(1, n + 1) + k0
    mean0 = cumulative_mean([], initial)[-1] if k0 else 0.0
    means = (mean0 * k0 + np.cumsum(drawn, axis=1)) / counts
    maxes = np.maximum.accumulate(drawn, axis=1)
    if k0:
        means = np.concatenate([np.full((rows, 1), mean0), means], axis=1)
        maxes = np.maximum.accumulate(np.concatenate([np.full((rows, 1), max(initial)), drawn], axis=1), axis=1)
    steps = np.diff(means, axis=1)
    out: dict[str, list[float | None]] = {
        "delta": (means[:, -1] - means[:, 0]).tolist(), "delta_max": (maxes[:, -1] - maxes[:, 0]).tolist(),
        "final_mean": means[:, -1].tolist(), "final_max": maxes[:, -1].tolist(),
        "max_drawdown": (np.maximum.accumulate(means, axis=1) - means).max(axis=1).tolist(),
    }
    if steps.shape[1] < 2:
        out["volatility"] = [None] * rows
        out["sharpe"] = [None] * rows
        return out, means
    vol = steps.std(axis=1, ddof=1)
    mean_step = steps.mean(axis=1)
    scale = np.abs(means).max(axis=1) + 1.0
    flat = vol <= 1e-12 * scale  # rounding of the cumulative sums, not spread
    out["volatility"] = np.where(flat, 0.0, vol).tolist()
    sharpe: list[float | None] = []
    for f, m, v in zip(flat.tolist(), mean_step.tolist(), vol.tolist(), strict=True):
        sharpe.append((0.0 if abs(m) <= 1e-12 * 1.0 else None) if f else m / v)
    out["sharpe"] = sharpe
    return out, means


@dataclass
class Verdict:
    metric: str
    a: float | None
    b: float | None
    difference: float | None  # b - a
    interval: tuple[float, float] | None  # 95% percentile interval of b* - a*
    exceeds_noise: bool | None  # None: not enough data to tell

    @property
    def label(self) -> str:
        if self.exceeds_noise is None:
            return "not enough data"
        return "exceeds the noise" if self.exceeds_noise else "within the noise"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}


def compare(metric: str, a: float | None, b: float | None, a_draws: Sequence[float | None],
            b_draws: Sequence[float | None], level: float = LEVEL, n: int | None = None) -> Verdict:
    """Whether b differs from a beyond the noise: the percentile interval of the paired resampled
    differences excludes 0. Resamples where either side is undefined are left out; with fewer than
    MIN_VERDICT_N designs behind the numbers (`n`, the smaller run's) there is no verdict."""
    diffs = [y - x for x, y in zip(a_draws, b_draws, strict=False) if x is not None and y is not None]
    enough = len(diffs) >= 20 and (n is None or n >= MIN_VERDICT_N)
    interval = percentile_interval(diffs, level) if enough else None
    difference = b - a if a is not None and b is not None else None
    exceeds = None if interval is None or difference is None else not (interval[0] <= 0.0 <= interval[1])
    return Verdict(metric, a, b, difference, interval, exceeds)


# ---- rates ------------------------------------------------------------------------------------------

def rate_draws(outcomes: Sequence[bool], resamples: int = DEFAULT_RESAMPLES,
               rng: random.Random | None = None) -> list[float | None]:
    """Bootstrap of a share (True = counted): each resample draws the outcomes with replacement."""
    rng = rng or random.Random(0)
    n = len(outcomes)
    if not n:
        return [None] * resamples
    hits = sum(1 for o in outcomes if o)
    p = hits / n
    return [sum(1 for _ in range(n) if rng.random() < p) / n for _ in range(resamples)]


def share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def mean_sd(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean, std = _mean_std(values)
    return mean, std


def designer_key(origin_kind: str, origin: dict[str, Any] | None) -> str:
    """Who made a design: "gp", "seed", "upload", or "llm: role=model, …" (one LLM configuration)."""
    if origin_kind != "llm":
        return origin_kind or "unknown"
    models = (origin or {}).get("models") or {}
    if not isinstance(models, dict) or not models:
        return "llm"
    return "llm: " + ", ".join(f"{role}={models[role]}" for role in sorted(models))


def bucket_index(seconds: float, width_s: float) -> int:
    if width_s <= 0:
        raise ValueError("bucket width must be positive")
    return int(max(seconds, 0.0) // width_s)
