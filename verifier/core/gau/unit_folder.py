"""Read a folder of unit files (one GAU per file, named after its class) into a GAU tree.

This is how the seeds are stored and how a researcher can hand in a design as files. Children come
from each file's `CHILDREN_DECLARATIONS`; a unit's extra hyper-parameters are the defaulted keyword
arguments of its constructor; the root is the one unit no other unit declares as a child.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from .source import children_declarations, class_docstring, module_docstring, parse
from .tree import GAUNode, GAUTree, TreeError

STANDARD_INIT_ARGS = frozenset({"self", "embed_dim", "block_loc", "kwarg_all", "device", "dtype"})


def constructor_args(code: str, class_name: str) -> dict[str, Any]:
    """Defaulted keyword arguments of `class_name.__init__` beyond the protocol's own."""
    module = parse(code)
    if module is None:
        return {}
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return _defaults(item.args)
    return {}


def required_constructor_args(code: str, class_name: str) -> list[str]:
    """Constructor arguments without a default beyond the protocol's own: sizes the parent must pass."""
    module = parse(code)
    if module is None:
        return []
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    a = item.args
                    positional = a.posonlyargs + a.args
                    required = [x.arg for x in positional[: len(positional) - len(a.defaults)]]
                    required += [x.arg for x, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is None]
                    return [n for n in required if n not in STANDARD_INIT_ARGS]
    return []


def _defaults(args: ast.arguments) -> dict[str, Any]:
    out: dict[str, Any] = {}
    positional = args.posonlyargs + args.args
    for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True):
        _put_default(out, arg.arg, default)
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if kw_default is not None:
            _put_default(out, arg.arg, kw_default)
    return out


def _put_default(out: dict[str, Any], name: str, node: ast.expr) -> None:
    if name in STANDARD_INIT_ARGS:
        return
    try:
        out[name] = ast.literal_eval(node)
    except ValueError:
        pass  # a computed default (e.g. a function): not a tunable hyper-parameter


def node_from_code(name: str, code: str) -> tuple[GAUNode, list]:
    decls = children_declarations(code)
    children: list[str] = []
    for d in decls:
        if d.unitname not in children:
            children.append(d.unitname)
    spec = class_docstring(code, name) or module_docstring(code)
    node = GAUNode(name=name, code=code, spec=spec, args=constructor_args(code, name), children=children)
    return node, decls


def load_unit_folder(path: str | Path, name: str | None = None, root: str | None = None) -> GAUTree:
    folder = Path(path)
    files = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
    if not files:
        raise TreeError(f"no unit files (*.py) in {folder}")
    units: dict[str, GAUNode] = {}
    declares = {}
    for file in files:
        node, decls = node_from_code(file.stem, file.read_text())
        units[node.name] = node
        for d in decls:
            declares[d.unitname] = d
    if root is None:
        called = {c for u in units.values() for c in u.children}
        roots = [n for n in units if n not in called]
        if len(roots) != 1:
            raise TreeError(f"cannot tell the root unit of {folder}: candidates {roots}")
        root = roots[0]
    readme = folder / "README.md"
    metadata = {"description": readme.read_text().strip()} if readme.exists() else {}
    tree = GAUTree(name=name or folder.name, root=root, units=units, declares=declares, metadata=metadata)
    return tree.check()
