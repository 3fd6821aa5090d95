"""Learning-rate schedule: linear warmup, then cosine decay to a floor (the paper's recipe).

Defaults: 2% warmup, decay to 10% of the peak at the last step.
"""

from __future__ import annotations

import math


def lr_at(step: int, total_steps: int, peak_lr: float, warmup_frac: float = 0.02, min_ratio: float = 0.1) -> float:
    """Learning rate for optimizer step `step` (0-based) of `total_steps`."""
    warmup = max(1, round(warmup_frac * total_steps))
    if step < warmup:
        return peak_lr * (step + 1) / warmup
    decay_steps = max(1, total_steps - 1 - warmup)
    progress = min(1.0, (step - warmup) / decay_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return peak_lr * (min_ratio + (1.0 - min_ratio) * cosine)
