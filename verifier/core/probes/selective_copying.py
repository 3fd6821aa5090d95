"""Selective copying (MAD; Mamba's selective copying): a few data tokens scattered among blanks;
after a separator the model reproduces them in order, skipping the blanks."""

from __future__ import annotations

import torch

from .base import IGNORE, Probe, ProbeBatch

N_DATA = 16
BLANK, SEP = N_DATA, N_DATA + 1
N_COPY = 8


def make_batch(batch: int, seq_len: int, g: torch.Generator) -> ProbeBatch:
    ctx_len = seq_len - N_COPY  # context (with the data tokens), then SEP and N_COPY - 1 echoed tokens
    data = torch.randint(0, N_DATA, (batch, N_COPY), generator=g)
    positions = torch.sort(torch.argsort(torch.rand(batch, ctx_len - 1, generator=g), dim=1)[:, :N_COPY], dim=1).values
    ctx = torch.full((batch, ctx_len - 1), BLANK, dtype=torch.long)
    ctx.scatter_(1, positions, data)
    sep = torch.full((batch, 1), SEP, dtype=torch.long)
    x = torch.cat([ctx, sep, data[:, :-1]], dim=1)
    y = torch.full_like(x, IGNORE)
    y[:, ctx_len - 1:] = data
    return ProbeBatch(x, y)


PROBE = Probe("selective_copying", "copy the data tokens, in order, out of a sequence of blanks",
              N_DATA + 2, 1 / N_DATA, make_batch)
