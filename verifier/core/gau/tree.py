"""The GAU tree as data: units, their children and declarations, with validation and hashing.

A tree is what is stored, diffed, mutated and crossed over; the composer turns it into code.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .base import UnitDecl
from .source import class_names, rename_identifiers

TREE_FORMAT = "genesys.gau-tree/1"


class TreeError(ValueError):
    """A tree that is malformed, or an operation that would make it so."""


@dataclass
class GAUNode:
    """One implemented unit: its source code (one GAUBase subclass named `name`) and children."""

    name: str
    code: str
    spec: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)

    def content_hash(self) -> str:
        payload = {"name": self.name, "code": self.code, "args": self.args, "children": self.children}
        return _sha(payload)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GAUNode:
        return cls(
            name=data["name"],
            code=data["code"],
            spec=data.get("spec", ""),
            args=dict(data.get("args", {})),
            children=list(data.get("children", [])),
        )


@dataclass
class GAUTree:
    """A block design: the root unit and every unit reachable from it, by name."""

    name: str
    root: str
    units: dict[str, GAUNode] = field(default_factory=dict)
    declares: dict[str, UnitDecl] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    # ---- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": TREE_FORMAT,
            "name": self.name,
            "root": self.root,
            "units": {n: u.to_dict() for n, u in sorted(self.units.items())},
            "declares": {n: asdict(d) for n, d in sorted(self.declares.items())},
            "metadata": self.metadata,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict) -> GAUTree:
        if not isinstance(data, dict):
            raise TreeError("a design must be a JSON object")
        fmt = data.get("format", TREE_FORMAT)
        if fmt != TREE_FORMAT:
            raise TreeError(f"unknown design format {fmt!r} (expected {TREE_FORMAT!r})")
        for key in ("name", "root", "units"):
            if key not in data:
                raise TreeError(f"design JSON lacks the field {key!r}")
        try:
            units = {n: GAUNode.from_dict(u) for n, u in data["units"].items()}
            declares = {n: UnitDecl(**d) for n, d in data.get("declares", {}).items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise TreeError(f"malformed unit in design JSON: {exc}") from exc
        return cls(
            name=data["name"],
            root=data["root"],
            units=units,
            declares=declares,
            metadata=dict(data.get("metadata", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> GAUTree:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TreeError(f"design is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def copy(self) -> GAUTree:
        return copy.deepcopy(self)

    # ---- structure -----------------------------------------------------------------------------
    def reachable(self, start: str | None = None) -> list[str]:
        """Unit names reachable from `start` (default: the root), depth-first, parents first."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            order.append(name)
            node = self.units.get(name)
            if node is not None:
                for child in node.children:
                    visit(child)

        visit(start or self.root)
        return order

    def implemented(self, start: str | None = None) -> list[str]:
        return [n for n in self.reachable(start) if n in self.units]

    def unimplemented(self) -> list[str]:
        """Reachable units that are declared but not yet written: the implementer's to-do list."""
        return [n for n in self.reachable() if n not in self.units]

    def parents_of(self, name: str) -> list[str]:
        return [n for n, u in self.units.items() if name in u.children]

    def gab_config(self) -> dict[str, Any]:
        """Extra hyper-parameters of all reachable units (the module-level `gab_config`)."""
        config: dict[str, Any] = {}
        for name in self.implemented():
            for key, value in self.units[name].args.items():
                if key in config and config[key] != value:
                    raise TreeError(
                        f"units disagree on the default of {key!r}: {config[key]!r} vs {value!r} in {name}"
                    )
                config[key] = value
        return config

    def validate(self, allow_unimplemented: bool = False) -> list[str]:
        """Problems with the tree, as messages; empty when valid. Raise with `check()`."""
        problems: list[str] = []
        if self.root not in self.units:
            problems.append(f"root unit {self.root!r} is not implemented")
        for name, node in self.units.items():
            if node.name != name:
                problems.append(f"unit stored under {name!r} is named {node.name!r}")
            classes = class_names(node.code)
            if classes is None:
                problems.append(f"unit {name}: code does not parse")
            elif name not in classes:
                problems.append(f"unit {name}: code defines no class {name!r}")
            for child in node.children:
                if child not in self.units and child not in self.declares:
                    problems.append(f"unit {name}: child {child!r} is neither implemented nor declared")
                elif child not in self.units and not allow_unimplemented:
                    problems.append(f"unit {name}: child {child!r} is declared but not implemented")
        cycle = self._find_cycle()
        if cycle:
            problems.append("cycle in the unit tree: " + " -> ".join(cycle))
        reachable = set(self.reachable())
        for name in sorted(set(self.units) - reachable):
            problems.append(f"unit {name!r} is unreachable from the root {self.root!r}")
        return problems

    def check(self, allow_unimplemented: bool = False) -> GAUTree:
        problems = self.validate(allow_unimplemented=allow_unimplemented)
        if problems:
            raise TreeError("invalid GAU tree: " + "; ".join(problems))
        return self

    def _find_cycle(self) -> list[str] | None:
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(name: str) -> list[str] | None:
            state[name] = 1
            stack.append(name)
            node = self.units.get(name)
            for child in node.children if node else []:
                if state.get(child) == 1:
                    return stack[stack.index(child):] + [child]
                if child not in state:
                    found = visit(child)
                    if found:
                        return found
            stack.pop()
            state[name] = 2
            return None

        for name in self.units:
            if name not in state:
                found = visit(name)
                if found:
                    return found
        return None

    # ---- identity ------------------------------------------------------------------------------
    def unit_hashes(self) -> dict[str, str]:
        return {n: self.units[n].content_hash() for n in self.implemented()}

    def content_hash(self) -> str:
        """Stable hash of what runs: the root and every reachable unit (names, code, args)."""
        return _sha({"root": self.root, "units": sorted(self.unit_hashes().items())})

    # ---- editing -------------------------------------------------------------------------------
    def subtree(self, name: str) -> GAUTree:
        """A stand-alone tree rooted at `name` with copies of its descendants."""
        if name not in self.units:
            raise TreeError(f"no implemented unit {name!r} in tree {self.name!r}")
        names = self.reachable(name)
        return GAUTree(
            name=f"{self.name}:{name}",
            root=name,
            units={n: copy.deepcopy(self.units[n]) for n in names if n in self.units},
            declares={n: copy.deepcopy(self.declares[n]) for n in names if n in self.declares},
        )

    def rename_unit(self, old: str, new: str) -> None:
        """Rename a unit everywhere: its class, the code that calls it, children lists, declarations."""
        if old == new:
            return
        if new in self.units or new in self.declares:
            raise TreeError(f"cannot rename {old!r} to {new!r}: the name is taken")
        mapping = {old: new}
        for node in self.units.values():
            if old in node.children or node.name == old:
                node.code = rename_identifiers(node.code, mapping)
            node.children = [mapping.get(c, c) for c in node.children]
        if old in self.units:
            node = self.units.pop(old)
            node.name = new
            self.units[new] = node
        if old in self.declares:
            decl = self.declares.pop(old)
            decl.unitname = new
            self.declares[new] = decl
        if self.root == old:
            self.root = new

    def replace_subtree(self, target: str, donor: GAUTree, donor_unit: str | None = None) -> GAUTree:
        """Return a copy where unit `target` and the descendants only it uses are replaced by the
        subtree of `donor` rooted at `donor_unit` (default: the donor's root).

        Incoming units keep their names; a name that clashes with a different unit kept in this
        tree is renamed (`Name_1`), and the code of `target`'s parents is rewritten to call the new
        root by its name.
        """
        donor_unit = donor_unit or donor.root
        if target not in self.units and target not in self.declares:
            raise TreeError(f"no unit {target!r} in tree {self.name!r}")
        graft = donor.subtree(donor_unit)
        result = self.copy()

        old_names = set(result.reachable(target)) if target in result.units else {target}
        users_outside = {
            child for n, node in result.units.items() if n not in old_names for child in node.children
        }
        for n in old_names:
            if n == target or n not in users_outside:
                result.units.pop(n, None)
        old_decl = result.declares.pop(target, None)

        taken = set(result.units) | set(result.declares) | {target}
        for n in list(graft.units):
            existing = result.units.get(n)
            if existing is not None and existing.content_hash() == graft.units[n].content_hash():
                continue
            if n in taken:
                graft.rename_unit(n, _fresh_name(n, taken | set(graft.units)))
        new_root = graft.root

        for node in result.units.values():
            if target in node.children:
                node.code = rename_identifiers(node.code, {target: new_root})
                node.children = [new_root if c == target else c for c in node.children]
        if result.root == target:
            result.root = new_root
        for n, node in graft.units.items():
            result.units.setdefault(n, node)
        for n, decl in graft.declares.items():
            result.declares.setdefault(n, decl)
        if old_decl is not None and new_root not in result.declares:
            result.declares[new_root] = UnitDecl(new_root, old_decl.requirements, old_decl.inputs, old_decl.outputs)
        return result


def _fresh_name(base: str, taken: set[str]) -> str:
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def _sha(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
