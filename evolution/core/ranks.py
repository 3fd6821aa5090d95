"""Rank agreement between two rungs: Spearman's rho over the designs verified at both.

Ties get the average of the ranks they span (the usual correction), so a population with equal
values neither breaks nor inflates rho; with fewer than 3 designs, or no spread on one side, rho is
undefined (None) rather than a misleading ±1."""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_N = 3


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing the mean of their positions."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation of the average ranks; None for n < 3 or a constant side."""
    if len(xs) != len(ys):
        raise ValueError(f"paired values of different lengths ({len(xs)} and {len(ys)})")
    if len(xs) < MIN_N:
        return None
    rx, ry = average_ranks(xs), average_ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)
