"""Auto-tuner: fit a design to a rung (size), then fit its batch to the device (memory).

Size: the checker's size tuner (`verifier.core.sizing.tune_size`) searches (d_model, n_block) until
the design's non-embedding parameter count is within the rung's window; candidates are built on
the meta device, so nothing is allocated.

Memory: the micro-batch starts at the whole batch (or a cap) and is halved on out-of-memory;
gradient accumulation makes up the rest, so the optimizer always sees the rung's batch. On a CPU,
where nothing runs out of memory in a useful way, `memory_cap` simulates a budget by adding up the
tensors autograd saves for the backward pass and raising `torch.OutOfMemoryError` past a limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from ..model import GenesysLM, LMConfig
from ..sizing import MAX_WIDTH_FACTOR, SizeResult, SizingError, tune_size
from .ladder import Rung


def build_model(gab_cls: type, gab_config: dict, vocab_size: int, d_model: int, n_block: int,
                context_length: int, device: str | torch.device | None = None,
                dtype: torch.dtype | None = None) -> GenesysLM:
    config = LMConfig(vocab_size=vocab_size, d_model=d_model, n_block=n_block,
                      context_length=context_length, gab_config=dict(gab_config))
    return GenesysLM(config, gab_cls, device=device, dtype=dtype)


def param_counter(gab_cls: type, gab_config: dict, vocab_size: int, context_length: int) -> Callable[[int, int], int]:
    """count(d_model, n_block) -> non-embedding parameters, built on the meta device when possible."""

    def count(d_model: int, n_block: int) -> int:
        try:
            with torch.device("meta"):
                model = build_model(gab_cls, gab_config, vocab_size, d_model, n_block, context_length, device="meta")
        except Exception:  # noqa: BLE001 - a unit that cannot live on meta: count it for real
            model = build_model(gab_cls, gab_config, vocab_size, d_model, n_block, context_length, device="cpu")
        return model.num_params(non_embedding=True)

    return count


class DesignBuildError(RuntimeError):
    """The design could not be built at any shape the tuner tried: a broken design, not a size problem."""


def fit_to_rung(gab_cls: type, gab_config: dict, rung: Rung, vocab_size: int) -> SizeResult:
    """The (d_model, n_block) whose non-embedding parameters are within the rung's window.

    Widths above MAX_WIDTH_FACTOR x the rung's are not tried: a design that needs them has too few
    parameters per block to be this rung's experiment. Raises `verifier.core.sizing.SizingError`
    when no shape fits, `DesignBuildError` when the design could not be built at all."""
    count = param_counter(gab_cls, gab_config, vocab_size, rung.context_length)
    built, errors = [], []

    def tracked(d_model: int, n_block: int) -> int:
        try:
            value = count(d_model, n_block)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            raise
        built.append((d_model, n_block))
        return value

    try:
        return tune_size(tracked, rung.target_params, rung.d_model, rung.n_block, tolerance=rung.size_tolerance,
                         max_d_model=MAX_WIDTH_FACTOR * rung.d_model)
    except SizingError:
        if errors and not built:
            raise DesignBuildError(errors[0]) from None
        raise


# ---- memory ------------------------------------------------------------------------------------

def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def free_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextlib.contextmanager
def memory_cap(max_bytes: int | None) -> Iterator[None]:
    """Simulated out-of-memory: raise once the tensors saved for backward exceed `max_bytes`."""
    if not max_bytes:
        yield
        return
    used = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal used
        used += tensor.numel() * tensor.element_size()
        if used > max_bytes:
            raise torch.OutOfMemoryError(
                f"simulated out of memory: {used / 2**20:.1f} MiB saved for backward > cap {max_bytes / 2**20:.1f} MiB"
            )
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield


@dataclass
class BatchPlan:
    micro_batch: int  # sequences per forward/backward
    grad_accum: int  # micro-batches per optimizer step
    batch_seqs: int  # sequences per optimizer step
    tried: list[int]  # micro-batches that ran out of memory, in order

    def halved(self) -> BatchPlan:
        micro = max(1, self.micro_batch // 2)
        return BatchPlan(micro, -(-self.batch_seqs // micro), self.batch_seqs, [*self.tried, self.micro_batch])


def plan_batch(batch_seqs: int, max_micro_batch: int | None = None) -> BatchPlan:
    micro = min(batch_seqs, max_micro_batch or batch_seqs)
    return BatchPlan(micro, -(-batch_seqs // micro), batch_seqs, [])


def probe_micro_batch(plan: BatchPlan, try_step: Callable[[int], None]) -> BatchPlan:
    """Run `try_step(micro_batch)` (one forward and backward) and halve on out-of-memory until it
    fits. Raises `torch.OutOfMemoryError` if even one sequence does not."""
    while True:
        try:
            try_step(plan.micro_batch)
            return plan
        except Exception as exc:
            if not is_oom(exc):
                raise
            free_memory()
            if plan.micro_batch == 1:
                raise torch.OutOfMemoryError(f"out of memory at a micro-batch of 1 sequence: {exc}") from exc
            plan = plan.halved()
