"""Throughput figures: model FLOPs per token, the device's peak, MFU, and peak memory.

FLOPs are counted, not estimated from a formula: one forward and backward of the actual design is
run under `torch.utils.flop_counter.FlopCounterMode`, which counts matmuls and attention kernels.
Designs without attention are thus not credited with attention FLOPs they do not do, and every
design (and the plain GPT reference) is measured the same way.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable

import torch

# Dense bf16 tensor-core peaks (FLOP/s), matched against torch.cuda.get_device_name().
PEAK_BF16_FLOPS = (
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("GH200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("A10G", 70e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("4090", 165e12),
)


def peak_flops(device: torch.device) -> float | None:
    """The device's dense bf16 peak, or None where it is unknown (CPUs, unlisted GPUs)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, flops in PEAK_BF16_FLOPS:
        if key in name:
            return flops
    return None


def count_flops(run: Callable[[], None]) -> int:
    """Total FLOPs of `run()` (which should do one forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run()
    return int(counter.get_total_flops())


def flops_per_token(loss_fn: Callable[[torch.Tensor], torch.Tensor], seq_len: int, vocab_size: int,
                    device: torch.device) -> float:
    """Training FLOPs (forward + backward) per token for sequences of `seq_len`."""
    ids = torch.randint(0, vocab_size, (1, seq_len), device=device)

    def run() -> None:
        loss_fn(ids).backward()

    return count_flops(run) / seq_len


def mfu(tokens_per_s: float, flops_per_tok: float, peak: float | None) -> float | None:
    return tokens_per_s * flops_per_tok / peak if peak else None


def peak_memory_bytes(device: torch.device) -> tuple[int, str]:
    """(bytes, what was measured): allocated GPU memory on CUDA, the process's peak RSS elsewhere."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda_max_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024), "process_max_rss"


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
