"""The ladder of verification rungs as the web app and the loop need it: names in order, size, where
a rung runs, and what one verification costs and may take.

The ladder itself (order, budgets, the opening rule, next rung, cost estimates and timeouts) is
defined once, by the verification engine (`verifier.core.train.ladder`); this module presents it
and picks the default budgets of a new run on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from verifier.core.train import ladder as engine
from verifier.core.train.ladder import EXTRA_RUNGS, LADDER, Rung, baseline_for


@dataclass(frozen=True)
class RungInfo:
    name: str
    index: int
    params: int  # non-embedding parameters of the rung's reference shape
    tokens: int  # training tokens
    est_gpu_seconds: float  # 0 for CPU rungs
    device: str = "cuda"
    est_seconds: float = 0.0  # wall time on the rung's reference device (GPU or CPU)
    timeout_s: float = 0.0  # a verification running longer is given up

    @property
    def est_gpu_hours(self) -> float:
        return self.est_gpu_seconds / 3600.0


def _info(index: int, rung: Rung) -> RungInfo:
    return RungInfo(rung.name, index, rung.target_params, rung.train_tokens, rung.est_gpu_seconds, rung.device,
                    rung.est_seconds, rung.timeout_s)


@cache
def ladder() -> tuple[RungInfo, ...]:
    """The evolution ladder (cheapest rung first, then up to the paper's GPU rungs); `test` is last."""
    rungs = [*LADDER.values(), *EXTRA_RUNGS.values()]
    return tuple(_info(i, r) for i, r in enumerate(rungs))


def default_budgets(has_gpu: bool | None = None) -> dict[str, int]:
    """Verifications per rung for a new run: the engine's budgets (4x per rung down), GPU rungs only
    where a GPU is present (a CPU-only deployment never queues work it cannot run)."""
    if has_gpu is None:
        import torch

        has_gpu = torch.cuda.is_available()
    return {name: n for name, n in engine.default_budgets().items() if n and (has_gpu or LADDER[name].device == "cpu")}


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


def timeout_s(name: str) -> float:
    """The default wall-clock limit of a verification at `name` (from the rung's cost estimate)."""
    return engine.timeout_s(name)


def chance_accuracy(task: str) -> float | None:
    """The random-choice accuracy of an evaluation task (None: not an accuracy task)."""
    return baseline_for(task)
