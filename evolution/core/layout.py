"""Server-side layout of the lineage graph: generation on y, a stable order on x.

Computed here rather than in the browser so that 1,000+ designs draw at once (the browser only
plots points and segments). Within a generation, designs are ordered by the mean position of their
parents, then by id, so children sit under their parents and a node keeps its place as the tree grows
elsewhere. Positions are spread over the width of the widest generation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping


def lineage_layout(
    nodes: Iterable[tuple[int, int]], parents: Mapping[int, list[int]]
) -> dict[int, tuple[float, int]]:
    """`nodes`: (id, generation); `parents`: child id -> parent ids. Returns id -> (x, generation)."""
    by_gen: dict[int, list[int]] = defaultdict(list)
    for node_id, gen in nodes:
        by_gen[gen].append(node_id)
    if not by_gen:
        return {}
    width = max(len(ids) for ids in by_gen.values())
    frac: dict[int, float] = {}  # position in [0, 1] within its generation
    out: dict[int, tuple[float, int]] = {}
    for gen in sorted(by_gen):
        ids = by_gen[gen]

        def key(node_id: int) -> tuple[float, int]:
            placed = [frac[p] for p in parents.get(node_id, ()) if p in frac]
            return (sum(placed) / len(placed) if placed else (node_id / 1e12), node_id)

        ids.sort(key=key)
        count = len(ids)
        for rank, node_id in enumerate(ids):
            frac[node_id] = (rank + 0.5) / count
            out[node_id] = (round(frac[node_id] * width, 3), gen)
    return out
