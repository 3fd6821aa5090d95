"""Compression (MAD): read a random sequence, then a compression token; a small decoder must
rebuild every token of the sequence from the model's output at that one position, so the block
has to pack the whole sequence into one state."""

from __future__ import annotations

import torch

from .base import Probe, ProbeBatch

N_DATA = 16
COMPRESS = N_DATA
LENGTH = 12  # tokens to compress (the decoder has one output per position)


def make_batch(batch: int, seq_len: int, g: torch.Generator) -> ProbeBatch:
    data = torch.randint(0, N_DATA, (batch, LENGTH), generator=g)
    x = torch.cat([data, torch.full((batch, 1), COMPRESS, dtype=torch.long)], dim=1)
    return ProbeBatch(x, data)  # y: the LENGTH tokens the decoder must rebuild


PROBE = Probe("compression", "rebuild a sequence from the state at its last position", N_DATA + 1,
              1 / N_DATA, make_batch, decoder_len=LENGTH)
