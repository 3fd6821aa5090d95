"""Memorisation (MAD): a fixed key -> value table, the same for every sequence, that the model can
only answer from its weights. A key is a pair of tokens, so the table cannot sit in one token's
embedding: the block has to combine the two tokens and store the 2,025 answers in its own weights.
Within a sequence each key appears once, so context cannot help."""

from __future__ import annotations

import torch

from .base import IGNORE, Probe, ProbeBatch, generator

N_TOKENS = 45  # key tokens; a key is an ordered pair: N_TOKENS**2 keys
N_VALUES = 32
TABLE_SEED = 7
N_KEYS = N_TOKENS * N_TOKENS
TABLE = torch.randint(N_TOKENS, N_TOKENS + N_VALUES, (N_KEYS,), generator=generator(TABLE_SEED))


def make_batch(batch: int, seq_len: int, g: torch.Generator) -> ProbeBatch:
    n_keys = seq_len // 3
    keys = torch.argsort(torch.rand(batch, N_KEYS, generator=g), dim=1)[:, :n_keys]
    vals = TABLE[keys]
    x = torch.stack([keys // N_TOKENS, keys % N_TOKENS, vals], dim=2).reshape(batch, -1)
    y = torch.full_like(x, IGNORE)
    y[:, 1::3] = vals  # predicted at the key's second token
    return ProbeBatch(x, y)


PROBE = Probe("memorization", "a fixed table of two-token keys learnt into the weights", N_TOKENS + N_VALUES,
              1 / N_VALUES, make_batch)
