"""The static stage: every unit of a tree parsed, protocol-checked and safety-checked, plus the
tree's own structure. Pure AST work in the calling process; nothing of the design runs."""

from __future__ import annotations

import ast
import re

from verifier.core.pyparse import parse_module

from ..gau.source import is_protocol_import
from ..gau.tree import GAUTree
from .categories import ERROR, PROTOCOL
from .config import CheckConfig
from .report import Finding
from .static_protocol import check_unit_protocol, parse_unit
from .static_safety import check_unit_safety

_UNIT_PREFIX = re.compile(r"^unit (\w+):")


def _top_level_definitions(code: str) -> set[str]:
    try:
        module = parse_module(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def tree_findings(tree: GAUTree, allow_unimplemented: bool) -> list[Finding]:
    """Problems of the tree as a whole (missing root, undeclared children, cycles) as findings."""
    out: list[Finding] = []
    for problem in tree.validate(allow_unimplemented=allow_unimplemented):
        if problem.endswith("code does not parse"):
            continue  # reported per unit, with the line, by the syntax check
        match = _UNIT_PREFIX.match(problem)
        out.append(Finding(PROTOCOL, ERROR, match.group(1) if match else None, None, problem, stage="static"))
    if "GAB" in tree.units or "GAB" in tree.declares:
        out.append(
            Finding(
                PROTOCOL,
                ERROR,
                "GAB",
                None,
                "no unit may be called GAB: the block wrapper has that name",
                stage="static",
            )
        )
    return out


def static_findings(tree: GAUTree, config: CheckConfig, allow_unimplemented: bool = False) -> list[Finding]:
    """All static findings of `tree`, units in tree order (parents first)."""
    findings = tree_findings(tree, allow_unimplemented)
    unit_names = set(tree.units) | set(tree.declares)
    for node in tree.units.values():
        unit_names.update(node.children)
    definitions: dict[str, dict[str, str]] = {}
    for name, node in tree.units.items():
        for ident in _top_level_definitions(node.code):
            definitions.setdefault(ident, {})[name] = name
    order = tree.implemented() + sorted(set(tree.units) - set(tree.implemented()))
    for name in order:
        node = tree.units[name]
        others = {ident: next(iter(owners)) for ident, owners in definitions.items() if name not in owners}
        findings.extend(check_unit_protocol(name, node.code, node.children, unit_names, others))
        module, syntax = parse_unit(name, node.code)
        if module is not None:
            findings.extend(
                check_unit_safety(
                    name, module, config.allowed_imports, config.forbidden_members, is_protocol_import
                )
            )
        elif not any(f.unit == name for f in findings):
            findings.extend(syntax)
    return findings
