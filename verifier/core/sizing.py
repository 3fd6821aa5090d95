"""Size tuner: find (d_model, n_block) whose non-embedding parameter count is near a target.

Parameter count is close to linear in n_block and quadratic in d_model, so the tuner first moves
n_block at the rung's reference width, then the width when depth alone cannot reach the target,
checking each candidate with the real count (on the meta device, so nothing is allocated).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


class SizingError(ValueError):
    """No shape within tolerance of the target."""


@dataclass
class SizeResult:
    d_model: int
    n_block: int
    params: int
    target: int
    tried: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.params / self.target


def tune_size(
    count: Callable[[int, int], int],
    target: int,
    d_model: int,
    n_block: int,
    tolerance: float = 0.2,
    width_multiple: int = 32,
    min_d_model: int = 64,
    max_n_block: int | None = None,
    max_evals: int = 24,
) -> SizeResult:
    """`count(d_model, n_block)` returns the non-embedding parameter count of the design."""
    max_n_block = max_n_block or max(4 * n_block, n_block + 8)
    cache: dict[tuple[int, int], int] = {}
    tried: list[tuple[int, int, int]] = []

    def measure(d: int, n: int) -> int:
        if (d, n) not in cache:
            if len(cache) >= max_evals:
                raise StopIteration
            cache[(d, n)] = int(count(d, n))
            tried.append((d, n, cache[(d, n)]))
        return cache[(d, n)]

    def ok(p: int) -> bool:
        return abs(p - target) <= tolerance * target

    def best() -> tuple[int, int]:
        return min(cache, key=lambda k: abs(math.log(max(cache[k], 1) / target)))

    d, n = d_model, n_block
    try:
        for _ in range(max_evals):
            p = measure(d, n)
            if ok(p):
                return SizeResult(d, n, p, target, tried)
            per_block = max(p / n, 1.0)
            n_new = max(1, round(target / per_block))
            if n_new != n and 1 <= n_new <= max_n_block and (d, n_new) not in cache:
                n = n_new
                continue
            # Depth alone cannot get there (or already tried): rescale width, keep depth in range.
            n_clamped = min(max(n_new, 1), max_n_block)
            scale = math.sqrt(target / max(per_block * n_clamped, 1.0))
            d_new = max(min_d_model, width_multiple * max(1, round(d * scale / width_multiple)))
            if (d_new, n_clamped) in cache:
                # Try the neighbour widths before giving up.
                for cand in (d_new + width_multiple, d_new - width_multiple):
                    if cand >= min_d_model and (cand, n_clamped) not in cache:
                        d_new = cand
                        break
                else:
                    break
            d, n = d_new, n_clamped
    except StopIteration:
        pass
    bd, bn = best()
    raise SizingError(
        f"no shape within ±{tolerance:.0%} of {target:,} non-embedding parameters; closest "
        f"d_model={bd}, n_block={bn} with {cache[(bd, bn)]:,} ({cache[(bd, bn)] / target:.2f}x)"
    )
