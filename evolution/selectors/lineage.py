"""The lineage graph as compact JSON: columns of node attributes and edges as index pairs.

The layout is computed here (see `evolution.core.layout`), so the browser only draws. Filters do not
remove nodes (a lineage with holes misleads); they return the matching ids, which the page
highlights.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from evolution.core.layout import lineage_layout
from evolution.models import Design, DesignParent
from evolution.selectors.designs import DesignFilters, filter_designs

NODE_FIELDS = ("id", "name", "slug", "generation", "status", "verdict", "fitness", "confidence", "origin_kind",
               "is_seed")


def lineage_graph() -> dict[str, Any]:
    rows = list(Design.objects.order_by("id").values_list(*NODE_FIELDS))
    parents: dict[int, list[int]] = defaultdict(list)
    links = list(DesignParent.objects.order_by("child_id", "position").values_list("parent_id", "child_id"))
    for parent_id, child_id in links:
        parents[child_id].append(parent_id)
    layout = lineage_layout(((r[0], r[3]) for r in rows), parents)
    index = {r[0]: i for i, r in enumerate(rows)}
    columns: dict[str, list] = {f: [] for f in NODE_FIELDS}
    columns["x"] = []
    for row in rows:
        for f, value in zip(NODE_FIELDS, row, strict=True):
            columns[f].append(value)
        columns["x"].append(layout[row[0]][0])
    edges: list[int] = []
    for parent_id, child_id in links:
        if parent_id in index and child_id in index:
            edges.extend((index[parent_id], index[child_id]))
    return {"nodes": columns, "edges": edges, "count": len(rows)}


def matching_ids(params: Mapping[str, Any]) -> list[int] | None:
    """Ids of the designs the filters select, or None when no filter is set (everything matches)."""
    f = DesignFilters.from_params(params)
    if not f.active:
        return None
    return list(filter_designs(Design.objects.all(), f).order_by("id").values_list("id", flat=True))
