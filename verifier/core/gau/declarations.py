"""Keep the declarations of a tree consistent with what its code uses.

A unit declares its children twice: in its code (`CHILDREN_DECLARATIONS`, what a researcher reads and
what the LLM designer sees) and in the tree (`GAUTree.declares`, what the composer and the checker
use). After a swap or a graft both must name the units that now stand in the slots, with the
newcomer's own requirements, and no declaration may outlive the unit it describes.
"""

from __future__ import annotations

import ast

from .base import UnitDecl
from .source import children_declarations, parse
from .tree import GAUTree


def code_declarations(code: str) -> list[str]:
    """Unit names the code's `CHILDREN_DECLARATIONS` declares, in order."""
    return [d.unitname for d in children_declarations(code)]


def render_declarations(decls: list[UnitDecl]) -> str:
    lines = ["CHILDREN_DECLARATIONS = ["]
    for d in decls:
        lines.append(f"    UnitDecl({d.unitname!r}, {d.requirements!r}, {list(d.inputs)!r}, {list(d.outputs)!r}),")
    lines.append("]")
    return "\n".join(lines) + "\n"


def _assignment(module: ast.Module) -> ast.stmt | None:
    for node in module.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == "CHILDREN_DECLARATIONS" for t in targets):
            return node
    return None


def rewrite_declarations(code: str, decls: list[UnitDecl]) -> str:
    """`code` with its `CHILDREN_DECLARATIONS` replaced by `decls` (unchanged when it has none)."""
    module = parse(code)
    node = _assignment(module) if module is not None else None
    if node is None:
        return code
    lines = code.splitlines(keepends=True)
    start, end = node.lineno, node.end_lineno or node.lineno
    return "".join(lines[: start - 1]) + render_declarations(decls) + "".join(lines[end:])


def declaration_of(tree: GAUTree, name: str) -> UnitDecl:
    return tree.declares.get(name) or UnitDecl(name, "", ["X"], ["Y"])


def sync_declarations(tree: GAUTree, fresh: frozenset[str] | set[str] = frozenset()) -> GAUTree:
    """Make every unit's code declare exactly its children and drop declarations of units no longer
    reachable. A child in `fresh` (a newcomer) is declared as the tree declares it; a child the code
    already declares keeps its own words (one unit may be described differently by two parents).
    Code already consistent is left as written."""
    reachable = set(tree.reachable())
    tree.declares = {n: d for n, d in tree.declares.items() if n in reachable}
    for node in tree.units.values():
        current = {d.unitname: d for d in children_declarations(node.code)}
        wanted = [
            current[c] if c in current and c not in fresh else declaration_of(tree, c) for c in node.children
        ]
        if set(current) == set(node.children) and all(current[d.unitname] == d for d in wanted):
            continue
        node.code = rewrite_declarations(node.code, wanted)
    return tree


def inconsistent_declarations(tree: GAUTree) -> list[str]:
    """Units whose code declares other children than they have (what a stale swap leaves behind)."""
    problems = []
    for name in tree.implemented():
        node = tree.units[name]
        if parse(node.code) is None or _assignment(parse(node.code)) is None:  # type: ignore[arg-type]
            continue
        declared = code_declarations(node.code)
        if set(declared) != set(node.children):
            problems.append(f"{name} declares {sorted(declared)} but its children are {sorted(node.children)}")
    return problems
