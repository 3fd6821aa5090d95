"""In-context recall (MAD; Zoology's multi-query associative recall): recall the value that went
with a key earlier in the same sequence."""

from __future__ import annotations

import torch

from .base import Probe, ProbeBatch
from .recall import kv_stream

N_KEYS = N_VALUES = 8


def make_batch(batch: int, seq_len: int, g: torch.Generator) -> ProbeBatch:
    x, y = kv_stream(batch, seq_len // 2, N_KEYS, N_VALUES, g)
    return ProbeBatch(x, y)


PROBE = Probe("in_context_recall", "value of a key seen earlier in the sequence", N_KEYS + N_VALUES,
              1 / N_VALUES, make_batch)
