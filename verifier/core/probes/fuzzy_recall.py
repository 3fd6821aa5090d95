"""Fuzzy recall (MAD): keys and values are motifs of several tokens, so the model must match a
multi-token key before it can recall the multi-token value."""

from __future__ import annotations

import torch

from .base import Probe, ProbeBatch
from .recall import kv_stream

N_KEYS = N_VALUES = 8
KEY_LEN = VALUE_LEN = 2


def make_batch(batch: int, seq_len: int, g: torch.Generator) -> ProbeBatch:
    x, y = kv_stream(batch, seq_len // (KEY_LEN + VALUE_LEN), N_KEYS, N_VALUES, g,
                     key_len=KEY_LEN, value_len=VALUE_LEN)
    return ProbeBatch(x, y)


PROBE = Probe("fuzzy_recall", "multi-token value of a multi-token key seen earlier", N_KEYS + N_VALUES,
              1 / N_VALUES, make_batch)
