"""Lineage analytics: which operators and which units produced improvements over their parents, which
units are reused most, which branches are strongest.

A rung's fitness is comparable only within that rung (each rung has its own metric and scale), so a
child is compared with its parents at the highest rung where the child and at least one parent were
both verified; the child improved when its value there beats its best parent's. It improved
*clearly* when the difference is also more than `z` combined standard errors (both errors known).
Children with no such shared rung are not compared (counted as `uncompared`).

A unit is credited with a child's comparison when the child introduced it (no parent has a unit with
that content hash). Branches are the run's lineage subtrees (see `evolution.core.ledger`), ranked by
their best F (F is comparable across rungs).

Plain data in and out; no framework.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .ledger import DesignCost, branch_roots, children_of, subtree

Z = 1.96


@dataclass
class LineageDesign:
    id: int
    name: str = ""
    parents: tuple[int, ...] = ()
    operator: str = ""  # mutation | crossover | scratch | seed, with the designer: "mutation (LLM: full)"
    units: frozenset[str] = frozenset()  # content hashes
    rungs: dict[str, tuple[float, float | None]] = field(default_factory=dict)  # rung -> (value, stderr)
    fitness: float | None = None  # F
    in_run: bool = True


@dataclass
class Comparison:
    child: int
    rung: str
    delta: float  # child minus its best parent at the rung, in the rung's own unit
    improved: bool
    clearly: bool


def compare_with_parents(d: LineageDesign, by_id: dict[int, LineageDesign], ladder: list[str], z: float = Z) -> Comparison | None:
    """The child against its best parent at the highest rung both were verified at (None: no such rung)."""
    parents = [by_id[p] for p in d.parents if p in by_id]
    shared = [r for r in d.rungs if any(r in p.rungs for p in parents)]
    if not shared:
        return None
    rung = max(shared, key=lambda r: (ladder.index(r) if r in ladder else -1, r))
    value, stderr = d.rungs[rung]
    best = max((p.rungs[rung] for p in parents if rung in p.rungs), key=lambda vs: vs[0])
    delta = value - best[0]
    errors = (stderr, best[1])
    clearly = delta > 0 and all(e is not None for e in errors) and delta > z * math.hypot(*(e or 0.0 for e in errors))
    return Comparison(d.id, rung, delta, delta > 0, clearly)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def lineage_stats(designs: list[LineageDesign], ladder: list[str], unit_names: dict[str, str] | None = None,
                  *, top: int = 15) -> dict[str, Any]:
    """Operators and units by the improvements they produced, the most reused units, the strongest
    branches. Only children in the run are judged; their parents may be anywhere."""
    by_id = {d.id: d for d in designs}
    names = unit_names or {}
    operators: dict[str, Counter] = defaultdict(Counter)
    units: dict[str, Counter] = defaultdict(Counter)
    comparisons: dict[int, Comparison] = {}
    for d in sorted(designs, key=lambda d: d.id):
        if not d.in_run or not d.parents:
            if d.in_run:
                operators[d.operator or "scratch"]["children"] += 1
                operators[d.operator or "scratch"]["uncompared"] += 1
            continue
        row = operators[d.operator or "unknown"]
        row["children"] += 1
        c = compare_with_parents(d, by_id, ladder)
        inherited = frozenset().union(*(by_id[p].units for p in d.parents if p in by_id))
        new_units = d.units - inherited
        if c is None:
            row["uncompared"] += 1
            continue
        comparisons[d.id] = c
        row["compared"] += 1
        row["improved"] += c.improved
        row["clearly"] += c.clearly
        for u in new_units:
            units[u]["compared"] += 1
            units[u]["improved"] += c.improved
            units[u]["clearly"] += c.clearly
    carriers = Counter(u for d in designs if d.in_run for u in d.units)
    op_rows: list[dict[str, Any]] = [{"operator": op, "children": c["children"], "compared": c["compared"], "uncompared": c["uncompared"],
                "improved": c["improved"], "clearly": c["clearly"], "rate": _rate(c["improved"], c["compared"])}
               for op, c in operators.items()]
    op_rows.sort(key=lambda r: (-(r["rate"] or -1), -r["compared"], r["operator"]))
    unit_rows: list[dict[str, Any]] = [{"unit": u, "name": names.get(u, u[:10]), "compared": c["compared"], "improved": c["improved"],
                  "clearly": c["clearly"], "rate": _rate(c["improved"], c["compared"]), "designs": carriers[u]}
                 for u, c in units.items()]
    unit_rows.sort(key=lambda r: (-r["improved"], -r["compared"], r["name"], r["unit"]))
    reused = [{"unit": u, "name": names.get(u, u[:10]), "designs": n}
              for u, n in sorted(carriers.items(), key=lambda kv: (-kv[1], names.get(kv[0], kv[0]), kv[0]))]
    return {
        "operators": op_rows,
        "improving_units": unit_rows[:top],
        "reused_units": reused[:top],
        "branches": strongest_branches(designs, top=top),
        "comparisons": len(comparisons),
    }


def strongest_branches(designs: list[LineageDesign], *, top: int = 15) -> list[dict[str, Any]]:
    """The run's branches by their best F (then size, then the older root); branches with no F last."""
    shells = [DesignCost(id=d.id, parents=d.parents, in_run=d.in_run) for d in designs]
    children = children_of(shells)
    by_id = {d.id: d for d in designs}
    rows: list[dict[str, Any]] = []
    for root in branch_roots(shells):
        members = subtree(root, children)
        known = [(f, m) for m in members if (f := by_id[m].fitness) is not None]
        best = max(known) if known else None
        parent_f = [f for p in by_id[root].parents if p in by_id and (f := by_id[p].fitness) is not None]
        rows.append({"root": root, "name": by_id[root].name, "designs": len(members),
                     "best_fitness": best[0] if best else None, "best_design": by_id[best[1]].name if best else None,
                     "gain_over_root_parents": (best[0] - max(parent_f)) if best and parent_f else None})
    rows.sort(key=lambda r: (r["best_fitness"] is None, -(r["best_fitness"] or 0.0), -r["designs"], r["root"]))
    return rows[:top]


def unit_record(designs: list[LineageDesign], unit: str, ladder: list[str]) -> dict[str, Any]:
    """For one unit's page: who introduced it (with which operator), how those children compared with
    their parents, and how many designs carry it."""
    by_id = {d.id: d for d in designs}
    introduced = []
    for d in sorted(designs, key=lambda d: d.id):
        if unit not in d.units:
            continue
        inherited = frozenset().union(*(by_id[p].units for p in d.parents if p in by_id))
        if unit in inherited:
            continue
        c = compare_with_parents(d, by_id, ladder) if d.parents else None
        introduced.append({"id": d.id, "name": d.name, "operator": d.operator or "scratch",
                           "rung": c.rung if c else None, "delta": c.delta if c else None,
                           "improved": c.improved if c else None, "clearly": c.clearly if c else None})
    compared = [r for r in introduced if r["improved"] is not None]
    return {"introduced_by": introduced, "carriers": sum(1 for d in designs if unit in d.units),
            "compared": len(compared), "improved": sum(1 for r in compared if r["improved"]),
            "clearly": sum(1 for r in compared if r["clearly"])}
