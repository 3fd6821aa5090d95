"""What changed between two GAU trees: units added, removed and changed (matched by name), and a
side-by-side line diff of each changed unit's code."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from verifier.core.gau.tree import GAUTree

ADDED, REMOVED, CHANGED, SAME = "added", "removed", "changed", "same"


@dataclass
class DiffRow:
    kind: str  # "equal" | "replace" | "delete" | "insert" | "skip"
    left_no: int | None
    left: str
    right_no: int | None
    right: str


@dataclass
class UnitDiff:
    name: str
    state: str
    rows: list[DiffRow] = field(default_factory=list)
    added_lines: int = 0
    removed_lines: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class TreeDiff:
    units: list[UnitDiff]
    root_changed: bool

    def names(self, state: str) -> list[str]:
        return [u.name for u in self.units if u.state == state]

    @property
    def states(self) -> dict[str, str]:
        return {u.name: u.state for u in self.units}

    @property
    def counts(self) -> dict[str, int]:
        return {s: len(self.names(s)) for s in (ADDED, REMOVED, CHANGED, SAME)}


def side_by_side(old: str, new: str, context: int = 3) -> list[DiffRow]:
    """Aligned rows of two texts; long unchanged stretches collapse to one "skip" row."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if rows or group[0][1] > 0:
            first = group[0]
            rows.append(DiffRow("skip", first[1] + 1, "", first[3] + 1, ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows.extend(DiffRow("equal", i + 1, a[i], j + 1, b[j]) for i, j in zip(range(i1, i2), range(j1, j2),
                                                                                 strict=True))
                continue
            for k in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + k, j1 + k
                left = (i + 1, a[i]) if i < i2 else (None, "")
                right = (j + 1, b[j]) if j < j2 else (None, "")
                kind = "replace" if left[0] and right[0] else ("delete" if left[0] else "insert")
                rows.append(DiffRow(kind, left[0], left[1], right[0], right[1]))
    return rows


def diff_trees(old: GAUTree, new: GAUTree) -> TreeDiff:
    old_names, new_names = old.implemented(), new.implemented()
    units: list[UnitDiff] = []
    for name in new_names:
        if name not in old.units:
            node = new.units[name]
            rows = [DiffRow("insert", None, "", i + 1, line) for i, line in enumerate(node.code.splitlines())]
            units.append(UnitDiff(name, ADDED, rows, added_lines=len(rows)))
            continue
        a, b = old.units[name], new.units[name]
        if a.content_hash() == b.content_hash():
            units.append(UnitDiff(name, SAME))
            continue
        rows = side_by_side(a.code, b.code)
        notes = []
        if a.children != b.children:
            notes.append(f"children {a.children} → {b.children}")
        if a.args != b.args:
            notes.append(f"arguments {a.args} → {b.args}")
        units.append(UnitDiff(
            name, CHANGED, rows,
            added_lines=sum(1 for r in rows if r.kind in ("insert", "replace")),
            removed_lines=sum(1 for r in rows if r.kind in ("delete", "replace")),
            notes=notes,
        ))
    for name in old_names:
        if name not in new.units:
            rows = [DiffRow("delete", i + 1, line, None, "") for i, line in enumerate(old.units[name].code.splitlines())]
            units.append(UnitDiff(name, REMOVED, rows, removed_lines=len(rows)))
    return TreeDiff(units=units, root_changed=old.root != new.root)
