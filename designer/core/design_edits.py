"""Edits the implementer makes to a GAU tree: open the units a proposal replaces, put a written unit
in, and reuse units of the parents by name.

Opening a unit removes it (and the descendants only it used) and leaves a declaration in its place,
so the unit joins the to-do list with the interface its callers expect.
"""

from __future__ import annotations

import copy
import keyword
import re

from verifier.core.gau.base import UnitDecl
from verifier.core.gau.source import rename_identifiers
from verifier.core.gau.tree import GAUTree, TreeError
from verifier.core.gau.unit_folder import node_from_code

UNIT_NAME = re.compile(r"^[A-Z][A-Za-z0-9_]*$")


def valid_unit_name(name: str) -> bool:
    return bool(UNIT_NAME.match(name)) and not keyword.iskeyword(name)


def open_unit(tree: GAUTree, target: str, new_name: str, requirements: str) -> GAUTree:
    """A copy of `tree` in which `target` is replaced by the declared, unwritten unit `new_name`."""
    if target not in tree.units:
        raise TreeError(f"{tree.name} has no unit {target!r}")
    result = tree.copy()
    removed = set(result.reachable(target))
    still_used = {c for n, node in result.units.items() if n not in removed for c in node.children}
    for name in removed:
        if name == target or name not in still_used:
            result.units.pop(name, None)
    old = result.declares.pop(target, None) or UnitDecl(target)
    if new_name != target:
        for node in result.units.values():
            if target in node.children:
                node.code = rename_identifiers(node.code, {target: new_name})
                node.children = [new_name if c == target else c for c in node.children]
    if result.root == target:
        result.root = new_name
    result.declares[new_name] = UnitDecl(new_name, requirements, list(old.inputs), list(old.outputs))
    return result


def scratch_tree(name: str, root: str, requirements: str) -> GAUTree:
    """An empty design whose only content is the declared root unit."""
    return GAUTree(name=name, root=root, declares={root: UnitDecl(root, requirements)})


def put_unit(tree: GAUTree, name: str, code: str) -> list[str]:
    """Write `code` as unit `name` into `tree` (in place); returns the children it declares."""
    node, decls = node_from_code(name, code)
    tree.units[name] = node
    for decl in decls:
        if decl.unitname not in tree.units:
            tree.declares[decl.unitname] = decl
    if name in tree.declares and tree.declares[name].requirements == "" and node.spec:
        tree.declares[name].requirements = node.spec.splitlines()[0]
    return list(node.children)


def adopt_from_parents(tree: GAUTree, parents: list[GAUTree],
                       exclude: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Graft, in place, every unwritten unit that a parent implements under the same name (with its
    subtree). A grafted unit whose descendant's name clashes with a different unit is renamed.
    Returns the names of the units that came in."""
    adopted: list[str] = []
    changed = True
    while changed:
        changed = False
        for name in tree.unimplemented():
            if name in exclude:
                continue
            donor = next((p for p in parents if name in p.units), None)
            if donor is None:
                continue
            adopted += _graft(tree, donor, name)
            changed = True
    return adopted


def _graft(tree: GAUTree, donor: GAUTree, name: str) -> list[str]:
    graft = donor.subtree(name)
    for unit in list(graft.units):
        if unit == name:
            continue
        existing = tree.units.get(unit)
        if existing is not None and existing.content_hash() != graft.units[unit].content_hash():
            fresh = _fresh_name(unit, set(tree.units) | set(tree.declares) | set(graft.units))
            graft.rename_unit(unit, fresh)
    came_in = []
    for unit, node in graft.units.items():
        if unit not in tree.units:
            tree.units[unit] = copy.deepcopy(node)
            came_in.append(unit)
    for unit, decl in graft.declares.items():
        tree.declares.setdefault(unit, copy.deepcopy(decl))
    return came_in


def prune_declarations(tree: GAUTree) -> None:
    """Drop declarations no reachable unit refers to any more (left over from opened units)."""
    wanted = set(tree.reachable())
    for name in list(tree.declares):
        if name not in wanted:
            tree.declares.pop(name)


def lines_of_code(code: str) -> int:
    """Non-blank, non-comment lines: the size measure of the paper's ablation table."""
    return sum(1 for line in code.splitlines() if line.strip() and not line.strip().startswith("#"))


def _fresh_name(base: str, taken: set[str]) -> str:
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"
