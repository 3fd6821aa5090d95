"""The ladder of verification rungs as the web app needs it: names in order, size, and an estimate
of what one verification costs.

The ladder itself belongs to the verification engine (`verifier.core.train.LADDER`); it is read
lazily and attribute by attribute, so pages work before the engine is installed (the fallback
below mirrors its rung names) and keep working when it grows fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# Effective training throughput used for estimates when the engine gives none: a small model on
# one H100 reaches a fraction of peak, so this is deliberately conservative.
EFFECTIVE_FLOPS = 1.0e14
EVAL_OVERHEAD_S = 120.0

# Verifications allowed per rung when the engine gives none; admins edit a run's budgets in the admin.
DEFAULT_BUDGETS = {"micro": 256, "tiny": 64, "14M": 256, "31M": 64, "70M": 16, "125M": 4, "350M": 1}

_FALLBACK = (  # name, non-embedding parameters, training tokens
    ("micro", 200_000, 2_000_000),
    ("tiny", 1_000_000, 20_000_000),
    ("14M", 14_000_000, 280_000_000),
    ("31M", 31_000_000, 620_000_000),
    ("70M", 70_000_000, 1_400_000_000),
    ("125M", 125_000_000, 2_500_000_000),
    ("350M", 350_000_000, 7_000_000_000),
)


@dataclass(frozen=True)
class RungInfo:
    name: str
    index: int
    params: int
    tokens: int
    est_gpu_seconds: float  # one verification of a plain GPT at this rung (0 for CPU rungs)
    source: str  # "engine" or "fallback"
    device: str = "cuda"


def _estimate(params: int, tokens: int) -> float:
    return 6.0 * params * tokens / EFFECTIVE_FLOPS + EVAL_OVERHEAD_S if params and tokens else 0.0


def _first(obj, names: tuple[str, ...], default=0):
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return default


def _from_engine() -> list[RungInfo] | None:
    try:
        from verifier.core.train import LADDER  # the verification engine; optional here
    except Exception:  # noqa: BLE001 - absent or broken engine: fall back, pages must render
        return None
    rungs = list(LADDER.values()) if isinstance(LADDER, dict) else list(LADDER)
    out: list[RungInfo] = []
    for i, rung in enumerate(rungs):
        name = str(_first(rung, ("name",), ""))
        if not name:
            continue
        params = int(_first(rung, ("nominal_params", "params", "target_params", "n_params")))
        tokens = int(_first(rung, ("train_tokens", "tokens", "n_tokens")))
        if not tokens:
            steps = int(_first(rung, ("steps", "max_steps")))
            batch = int(_first(rung, ("batch_size", "batch")))
            seq = int(_first(rung, ("seq_len", "context_length", "block_size")))
            tokens = steps * batch * seq
        device = str(_first(rung, ("device",), "cuda"))
        est = _first(rung, ("est_gpu_seconds", "estimated_gpu_seconds", "gpu_seconds"), None)
        est = float(est) if est is not None else (_estimate(params, tokens) if device == "cuda" else 0.0)
        out.append(RungInfo(name, i, params, tokens, est, "engine", device))
    return out or None


@cache
def ladder() -> tuple[RungInfo, ...]:
    engine = _from_engine()
    if engine:
        return tuple(engine)
    return tuple(
        RungInfo(name, i, params, tokens, _estimate(params, tokens) if i >= 2 else 0.0, "fallback",
                 "cuda" if i >= 2 else "cpu")
        for i, (name, params, tokens) in enumerate(_FALLBACK)
    )


def default_budgets() -> dict[str, int]:
    """Verifications per rung for a new run: the engine's defaults, else DEFAULT_BUDGETS."""
    try:
        from verifier.core.train.ladder import default_budgets as engine_budgets
    except Exception:  # noqa: BLE001 - no engine: the fallback budgets
        return dict(DEFAULT_BUDGETS)
    return {name: int(n) for name, n in engine_budgets().items() if n}


def rung_names() -> list[str]:
    return [r.name for r in ladder()]


def rung(name: str) -> RungInfo | None:
    return next((r for r in ladder() if r.name == name), None)


def rung_index(name: str) -> int:
    info = rung(name)
    return info.index if info else len(ladder())
