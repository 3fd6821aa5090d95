"""The ladder of verification rungs as the web app and the loop need it: names in order, size, where
a rung runs, and an estimate of what one verification costs.

The ladder itself belongs to the verification engine (`verifier.core.train.ladder.LADDER`); this
module only adds the cost estimate and the default budgets for a new run on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from verifier.core.train.ladder import EXTRA_RUNGS, LADDER, Rung, baseline_for

# Effective training throughput for estimates: a small model on one H100 reaches a fraction of
# peak (genesys-facts: 15-44% MFU of ~990 TFLOP/s bf16), so this is deliberately conservative.
EFFECTIVE_GPU_FLOPS = 1.0e14
EVAL_OVERHEAD_S = 120.0


@dataclass(frozen=True)
class RungInfo:
    name: str
    index: int
    params: int  # non-embedding parameters of the rung's reference shape
    tokens: int  # training tokens
    est_gpu_seconds: float  # 0 for CPU rungs
    device: str = "cuda"

    @property
    def est_gpu_hours(self) -> float:
        return self.est_gpu_seconds / 3600.0


def _info(index: int, rung: Rung) -> RungInfo:
    gpu = rung.device != "cpu"
    est = 6.0 * rung.target_params * rung.train_tokens / EFFECTIVE_GPU_FLOPS + EVAL_OVERHEAD_S if gpu else 0.0
    return RungInfo(rung.name, index, rung.target_params, rung.train_tokens, est, rung.device)


@cache
def ladder() -> tuple[RungInfo, ...]:
    """The evolution ladder (CPU rungs first, then the paper's GPU rungs); the `test` rung is last."""
    rungs = [*LADDER.values(), *EXTRA_RUNGS.values()]
    return tuple(_info(i, r) for i, r in enumerate(rungs))


def default_budgets(has_gpu: bool | None = None) -> dict[str, int]:
    """Verifications per rung for a new run: every rung of the ladder with a budget, GPU rungs only
    where a GPU is present (a CPU-only deployment never queues work it cannot run)."""
    if has_gpu is None:
        import torch

        has_gpu = torch.cuda.is_available()
    return {
        name: rung.budget for name, rung in LADDER.items()
        if rung.budget and (has_gpu or rung.device == "cpu")
    }


def rung_names() -> list[str]:
    return [r.name for r in ladder()]


def rung(name: str) -> RungInfo | None:
    return next((r for r in ladder() if r.name == name), None)


def rung_index(name: str) -> int:
    info = rung(name)
    return info.index if info else len(ladder())


def is_ladder_rung(name: str) -> bool:
    """Whether `name` is a rung of the evolution ladder (the `test` rung, for smoke tests, is not)."""
    return name in LADDER


def chance_accuracy(task: str) -> float | None:
    """The random-choice accuracy of an evaluation task (None: not an accuracy task)."""
    return baseline_for(task)
