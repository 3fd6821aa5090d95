"""Noisy recall (MAD): in-context recall with noise tokens (their own vocabulary) between the
pairs, which the model must learn to ignore."""

from __future__ import annotations

import torch

from .base import IGNORE, Probe, ProbeBatch
from .recall import kv_stream

N_KEYS = N_VALUES = 8
N_NOISE = 8
NOISE_FRACTION = 0.25  # of the sequence's positions


def make_batch(batch: int, seq_len: int, g: torch.Generator) -> ProbeBatch:
    n_noise = int(seq_len * NOISE_FRACTION) // 2 * 2
    n_pairs = (seq_len - n_noise) // 2
    x_kv, y_kv = kv_stream(batch, n_pairs, N_KEYS, N_VALUES, g)
    # Noise goes between pairs: choose, per row, which of the n_pairs + n_noise slots are noise.
    n_slots = n_pairs + n_noise // 2  # a noise slot holds two noise tokens (pairs stay aligned)
    order = torch.argsort(torch.rand(batch, n_slots, generator=g), dim=1)
    is_noise = torch.zeros(batch, n_slots, dtype=torch.bool)
    is_noise.scatter_(1, order[:, : n_noise // 2], True)
    noise = torch.randint(N_KEYS + N_VALUES, N_KEYS + N_VALUES + N_NOISE, (batch, n_slots, 2), generator=g)
    slot_x = noise.clone()
    slot_y = torch.full_like(noise, IGNORE)
    pair_index = torch.cumsum(~is_noise, dim=1) - 1  # which pair fills each non-noise slot
    rows = torch.arange(batch)[:, None].expand(batch, n_slots)
    pairs_x, pairs_y = x_kv.view(batch, n_pairs, 2), y_kv.view(batch, n_pairs, 2)
    keep = ~is_noise
    slot_x[keep] = pairs_x[rows[keep], pair_index[keep]]
    slot_y[keep] = pairs_y[rows[keep], pair_index[keep]]
    return ProbeBatch(slot_x.reshape(batch, -1), slot_y.reshape(batch, -1))


PROBE = Probe("noisy_recall", "in-context recall with noise tokens interleaved", N_KEYS + N_VALUES + N_NOISE,
              1 / N_VALUES, make_batch)
