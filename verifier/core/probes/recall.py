"""Shared layout of the recall probes: key-value pairs from a per-sequence mapping.

Keys and values come from disjoint halves of the vocabulary; each sequence draws a fresh mapping
key -> value, then a stream of pairs from it. Where a key has appeared before in the sequence, the
model must predict its value (the first occurrence of a key cannot be known and is not scored).
"""

from __future__ import annotations

import torch

from .base import IGNORE


def kv_stream(batch: int, n_pairs: int, n_keys: int, n_values: int, g: torch.Generator,
              key_len: int = 1, value_len: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of `n_pairs` pairs of `key_len` key tokens then `value_len` value tokens.

    Key tokens are 0..n_keys-1 and value tokens n_keys..n_keys+n_values-1. With key_len > 1 a key
    is a motif of several tokens (fuzzy recall); keys are distinct within a sequence; the targets are every value token after a key
    motif seen before (predicted from the previous token)."""
    n_motifs = n_keys ** key_len
    n_distinct = max(2, min(n_pairs // 2, n_motifs))  # distinct keys per sequence (one mapping)
    codes = torch.argsort(torch.rand(batch, n_motifs, generator=g), dim=1)[:, :n_distinct]
    digits = n_keys ** torch.arange(key_len - 1, -1, -1)
    key_motifs = (codes[:, :, None] // digits) % n_keys  # (batch, n_distinct, key_len), all distinct
    val_motifs = torch.randint(n_keys, n_keys + n_values, (batch, n_distinct, value_len), generator=g)
    which = torch.randint(0, n_distinct, (batch, n_pairs), generator=g)
    rows = torch.arange(batch)[:, None]
    keys = key_motifs[rows, which]  # (batch, n_pairs, key_len)
    vals = val_motifs[rows, which]
    x = torch.cat([keys, vals], dim=2).reshape(batch, -1)
    y = torch.full_like(x, IGNORE)
    # seen[b, i]: pair i's key occurred in an earlier pair of the same row
    same = which[:, :, None] == which[:, None, :]  # (batch, i, j)
    earlier = torch.tril(torch.ones(n_pairs, n_pairs, dtype=torch.bool), diagonal=-1)
    seen = (same & earlier).any(dim=2)
    width = key_len + value_len
    for v in range(value_len):
        pos = torch.arange(n_pairs) * width + key_len + v - 1  # the token before value token v
        target = vals[:, :, v]
        y[:, pos] = torch.where(seen, target, torch.full_like(target, IGNORE))
    return x, y
