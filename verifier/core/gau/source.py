"""Source-level helpers for unit code: parse, rename identifiers, split imports from bodies.

Edits are done on tokens or line ranges from the AST so that the code a researcher reads keeps its
formatting and comments.
"""

from __future__ import annotations

import ast
import io
import tokenize

from verifier.core.pyparse import parse_module

from .base import UnitDecl

# Import lines that bind the protocol names; the composer replaces them with the inlined protocol.
PROTOCOL_MODULES = (
    "verifier.core.gau.base",
    "verifier.core.gau",
    "model_discovery.model.utils.modules",
)
PROTOCOL_NAMES = frozenset({"GABBase", "GAUBase", "gau_test", "UnitDecl"})


def parse(code: str) -> ast.Module | None:
    try:
        return parse_module(code)
    except SyntaxError:
        return None


def class_names(code: str) -> list[str] | None:
    tree = parse(code)
    if tree is None:
        return None
    return [n.name for n in tree.body if isinstance(n, ast.ClassDef)]


def rename_identifiers(code: str, mapping: dict[str, str]) -> str:
    """Rename NAME tokens (classes, variables, attributes) per `mapping`; strings are untouched."""
    if not mapping:
        return code
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    lines = code.splitlines(keepends=True)
    # Apply from the end so earlier offsets stay valid.
    edits = [t for t in tokens if t.type == tokenize.NAME and t.string in mapping]
    for tok in reversed(edits):
        row, col = tok.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + mapping[tok.string] + line[col + len(tok.string):]
    return "".join(lines)


def is_protocol_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom) and node.module:
        if node.module in PROTOCOL_MODULES or node.module.endswith("utils.modules"):
            return True
        if node.module.lstrip(".") in ("base", "gau.base") and {a.name for a in node.names} <= PROTOCOL_NAMES:
            return True
    return False


def _is_gau_test(node: ast.stmt) -> bool:
    if not isinstance(node, ast.FunctionDef):
        return False
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Name) and target.id == "gau_test":
            return True
        if isinstance(target, ast.Attribute) and target.attr == "gau_test":
            return True
    return False


def _is_children_declarations(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == "CHILDREN_DECLARATIONS" for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == "CHILDREN_DECLARATIONS"
    return False


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _segment(lines: list[str], node: ast.stmt) -> str:
    start = node.lineno
    if getattr(node, "decorator_list", None):
        start = min(d.lineno for d in node.decorator_list)  # type: ignore[attr-defined]
    end = node.end_lineno or node.lineno
    return "".join(lines[start - 1:end])


def split_unit_code(code: str) -> tuple[list[str], str, str]:
    """Split unit code into (import statements, body without tests/declarations, test functions).

    Protocol imports are dropped (the composed module defines those names itself).
    """
    tree = parse(code)
    if tree is None:
        raise SyntaxError("unit code does not parse")
    lines = code.splitlines(keepends=True)
    imports: list[str] = []
    body: list[str] = []
    tests: list[str] = []
    for node in tree.body:
        text = _segment(lines, node)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if not is_protocol_import(node):
                imports.append(ast.unparse(node))
        elif _is_children_declarations(node):
            continue
        elif _is_gau_test(node):
            tests.append(text.rstrip() + "\n")
        elif node is tree.body[0] and _is_docstring(node):
            continue  # module docstring: the unit's spec carries it
        else:
            body.append(text.rstrip() + "\n")
    return imports, "\n\n".join(body), "\n\n".join(tests)


def children_declarations(code: str) -> list[UnitDecl]:
    """Read `CHILDREN_DECLARATIONS = [UnitDecl(...), ...]` without executing the code."""
    tree = parse(code)
    if tree is None:
        return []
    decls: list[UnitDecl] = []
    for node in tree.body:
        if not _is_children_declarations(node):
            continue
        value = node.value  # type: ignore[attr-defined]
        if not isinstance(value, (ast.List, ast.Tuple)):
            continue
        for call in value.elts:
            if not isinstance(call, ast.Call):
                continue
            fields = ["unitname", "requirements", "inputs", "outputs"]
            kwargs = {}
            try:
                for i, arg in enumerate(call.args):
                    kwargs[fields[i]] = ast.literal_eval(arg)
                for kw in call.keywords:
                    if kw.arg in fields:
                        kwargs[kw.arg] = ast.literal_eval(kw.value)
            except (ValueError, IndexError):
                continue
            if "unitname" in kwargs:
                decls.append(UnitDecl(**kwargs))
    return decls


def class_docstring(code: str, name: str) -> str:
    tree = parse(code)
    if tree is None:
        return ""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return ast.get_docstring(node) or ""
    return ""


def module_docstring(code: str) -> str:
    tree = parse(code)
    return (ast.get_docstring(tree) or "") if tree is not None else ""
