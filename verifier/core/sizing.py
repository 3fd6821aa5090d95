"""Size tuner: find (d_model, n_block) whose non-embedding parameter count is near a target.

Parameter count is close to linear in n_block and quadratic in d_model, so the tuner first moves
n_block at the rung's reference width, then the width when depth alone cannot reach the target,
checking each candidate with the real count (on the meta device, so nothing is allocated).
A shape the design cannot be built at (say, a width its head size does not divide) is skipped
for a neighbouring width. When no shape fits, the error says why: the target is below the
design's smallest shape, above its largest, or the search ran out of candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

# How far a ladder rung may widen a design from the rung's own width: as far as it may deepen it
# (4x). A block with very few parameters per width (a bare convolution, say) would otherwise reach
# its target at 20x the rung's width, where the embedding, the compute and the memory are another
# experiment (one such GP design took 17 CPU-min at the 3-minute screen).
MAX_WIDTH_FACTOR = 4


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


class _Search:
    def __init__(self, count: Callable[[int, int], int], max_evals: int):
        self.count = count
        self.max_evals = max_evals
        self.cache: dict[tuple[int, int], int | None] = {}
        self.tried: list[tuple[int, int, int]] = []
        self.failures: dict[tuple[int, int], str] = {}

    def measure(self, d: int, n: int) -> int | None:
        """The count at (d, n); None when the design cannot be built there."""
        if (d, n) not in self.cache:
            if len(self.cache) >= self.max_evals:
                raise StopIteration
            try:
                value: int | None = int(self.count(d, n))
            except Exception as exc:  # noqa: BLE001 - any failure of the design at this shape
                value = None
                self.failures[(d, n)] = f"{type(exc).__name__}: {exc}"
            self.cache[(d, n)] = value
            if value is not None:
                self.tried.append((d, n, value))
        return self.cache[(d, n)]

    def valid(self) -> dict[tuple[int, int], int]:
        return {k: v for k, v in self.cache.items() if v is not None}


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
    max_d_model: int = 8192,
) -> SizeResult:
    """`count(d_model, n_block)` returns the non-embedding parameter count of the design. Widths
    run from `min_d_model` to `max_d_model`, depths from 1 to `max_n_block` (default 4x `n_block`,
    at least `n_block` + 8). A ladder rung caps the width at MAX_WIDTH_FACTOR x its own
    (`verifier.core.train.autotune.fit_to_rung`)."""
    if target <= 0:
        raise SizingError(f"the target must be a positive parameter count, not {target}")
    max_n_block = max_n_block or max(4 * n_block, n_block + 8)
    search = _Search(count, max_evals)

    def ok(p: int) -> bool:
        return abs(p - target) <= tolerance * target

    d, n = d_model, min(max(1, n_block), max_n_block)
    try:
        for _ in range(max_evals):
            p = search.measure(d, n)
            if p is None:
                d = _neighbour_width(search, d, n, width_multiple, min_d_model, max_d_model)
                continue
            if ok(p):
                return SizeResult(d, n, p, target, search.tried)
            if (d <= min_d_model and n == 1 and p > target) or (
                d >= max_d_model and n >= max_n_block and p < target
            ):
                break  # the smallest shape is too big, or the largest too small: nothing to search
            per_block = max(p / n, 1.0)
            n_new = max(1, round(target / per_block))
            if n_new != n and 1 <= n_new <= max_n_block and (d, n_new) not in search.cache:
                n = n_new
                continue
            # Depth alone cannot get there (or already tried): rescale width, keep depth in range.
            n_clamped = min(max(n_new, 1), max_n_block)
            scale = math.sqrt(target / max(per_block * n_clamped, 1.0))
            d_new = width_multiple * max(1, round(d * scale / width_multiple))
            d_new = min(max(min_d_model, d_new), max_d_model)
            if (d_new, n_clamped) in search.cache:
                for cand in (d_new + width_multiple, d_new - width_multiple):
                    if min_d_model <= cand <= max_d_model and (cand, n_clamped) not in search.cache:
                        d_new = cand
                        break
                else:
                    break
            d, n = d_new, n_clamped
    except StopIteration:
        pass
    raise SizingError(_explain(search, target, tolerance, min_d_model, max_d_model, max_n_block))


def _neighbour_width(search: _Search, d: int, n: int, step: int, lo: int, hi: int) -> int:
    """The nearest width not tried yet at depth n (for a shape the design cannot be built at)."""
    for k in range(1, 64):
        for cand in (d + k * step, d - k * step):
            if lo <= cand <= hi and (cand, n) not in search.cache:
                return cand
    raise StopIteration


def _explain(search: _Search, target: int, tolerance: float, min_d: int, max_d: int, max_n: int) -> str:
    valid = search.valid()
    window = f"±{tolerance:.0%} of {target:,} non-embedding parameters"
    if not valid:
        reason = next(iter(search.failures.values()), "no shape was tried")
        return f"no shape within {window}: the design could not be built at any tried shape ({reason})"
    smallest = min(valid, key=lambda k: valid[k])
    largest = max(valid, key=lambda k: valid[k])
    if valid[smallest] > target * (1 + tolerance) and smallest[0] <= min_d and smallest[1] == 1:
        return (
            f"target too small: no shape within {window}; even the smallest shape, d_model={smallest[0]} "
            f"with n_block=1, has {valid[smallest]:,} (d_model may not go below {min_d})"
        )
    if valid[largest] < target * (1 - tolerance) and largest[0] >= max_d and largest[1] >= max_n:
        return (
            f"target too large: no shape within {window}; even d_model={largest[0]} with "
            f"n_block={largest[1]} has only {valid[largest]:,} (d_model may not go above {max_d}, "
            f"n_block above {max_n}: the design has too few parameters per block for this size)"
        )
    best = min(valid, key=lambda k: abs(math.log(max(valid[k], 1) / target)))
    return (
        f"no shape within {window}; closest d_model={best[0]}, n_block={best[1]} with {valid[best]:,} "
        f"({valid[best] / target:.2f}x)"
    )
