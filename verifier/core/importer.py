"""Import a single-file design in the reference implementation's format and factorise it into a tree.

Such a file holds the units as GAUBase subclasses, `class GAB(GABBase)` that builds the root unit,
and `gab_config`; often `from model_discovery.model.utils.modules import ...` (mapped onto our
protocol) and a tail registering the block with the reference implementation's registry (dropped).
One unit per GAUBase class; a unit's children are the units its class calls (files rarely carry
CHILDREN_DECLARATIONS; names it calls that the file does not define are declared, unwritten
children); the root is what `GAB.__init__` builds. A GAB that does more than wrap one unit becomes
the root unit itself. Module-level helpers and imports go with the units that use them.
Nothing is executed: this is AST work, safe on untrusted files.
"""

from __future__ import annotations

import ast
import builtins
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.core.pyparse import parse_module

from .gau.base import UnitDecl
from .gau.source import is_protocol_import
from .gau.tree import GAUNode, GAUTree, TreeError
from .gau.unit_folder import constructor_args

PROTOCOL_IMPORT = "from verifier.core.gau.base import GAUBase, UnitDecl, gau_test"
REGISTRY_NAMES = frozenset({"autoconfig", "block_config", "BlockRegister"})
_BUILTINS = frozenset(dir(builtins))


class DesignSyntaxError(TreeError):
    """The file does not parse; `lineno` says where."""

    def __init__(self, message: str, lineno: int | None):
        super().__init__(message)
        self.lineno = lineno


@dataclass
class _Statement:
    node: ast.stmt
    text: str
    defines: set[str] = field(default_factory=set)
    uses: set[str] = field(default_factory=set)


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _defines(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _base_names(cls: ast.ClassDef) -> list[str]:
    out = []
    for b in cls.bases:
        if isinstance(b, ast.Name):
            out.append(b.id)
        elif isinstance(b, ast.Attribute):
            out.append(b.attr)
    return out


def _is_registry(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[-1] == "block_registry" or any(
            a.name == "BlockRegister" for a in node.names
        )
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id in REGISTRY_NAMES for t in node.targets)
    if isinstance(node, ast.Expr):
        return bool(_names_used(node) & REGISTRY_NAMES)
    if isinstance(node, ast.If):
        test = node.test
        return isinstance(test, ast.Compare) and "__name__" in _names_used(test)  # if __name__ == "__main__"
    return False


def _is_test(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        (isinstance(d, ast.Name) and d.id == "gau_test")
        or (isinstance(d, ast.Attribute) and d.attr == "gau_test")
        for d in node.decorator_list
    )


def _camel(text: str) -> str:
    parts = re.split(r"[^0-9A-Za-z]+", text)
    name = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return name if name.isidentifier() and not name[0].isdigit() else ""


class _File:
    def __init__(self, source: str, name: str):
        try:
            self.module = parse_module(source)
        except SyntaxError as exc:
            raise DesignSyntaxError(f"{name}: line {exc.lineno}: {exc.msg}", exc.lineno) from exc
        self.lines = source.splitlines(keepends=True)
        self.name = name
        self.imports: list[_Statement] = []
        self.helpers: list[_Statement] = []
        self.units: dict[str, ast.ClassDef] = {}
        self.unit_text: dict[str, str] = {}
        self.declarations: dict[str, list[UnitDecl]] = {}
        self.tests: list[_Statement] = []
        self.gab: ast.ClassDef | None = None
        self.gab_config: dict[str, Any] = {}
        self._read()

    def text(self, node: ast.stmt) -> str:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return "".join(self.lines[start - 1 : node.end_lineno]).rstrip() + "\n"

    def _read(self) -> None:
        from .gau.source import children_declarations

        last_unit: str | None = None
        for node in self.module.body:
            if _is_registry(node):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if not is_protocol_import(node) and not (
                    isinstance(node, ast.ImportFrom) and node.module == "__future__"
                ):
                    self.imports.append(_Statement(node, self.text(node), _defines(node)))
            elif isinstance(node, ast.ClassDef) and "GAUBase" in _base_names(node):
                self.units[node.name] = node
                self.unit_text[node.name] = self.text(node)
                last_unit = node.name
            elif isinstance(node, ast.ClassDef) and ("GABBase" in _base_names(node) or node.name == "GAB"):
                self.gab = node
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "gab_config" for t in node.targets
            ):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError as exc:
                    raise TreeError(f"{self.name}: gab_config must be a literal dict") from exc
                if not isinstance(value, dict):
                    raise TreeError(f"{self.name}: gab_config must be a dict")
                self.gab_config = value
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "CHILDREN_DECLARATIONS" for t in node.targets
            ):
                if last_unit is not None:
                    self.declarations.setdefault(last_unit, []).extend(children_declarations(self.text(node)))
            elif _is_test(node):
                self.tests.append(_Statement(node, self.text(node), _defines(node), _names_used(node)))
            elif (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Constant)
                and node is self.module.body[0]
            ):
                continue  # module docstring
            else:
                self.helpers.append(_Statement(node, self.text(node), _defines(node), _names_used(node)))

    def defined_names(self) -> set[str]:
        names = set(self.units) | {"GAB", "gab_config"}
        for s in self.imports + self.helpers:
            names |= s.defines
        return names


def _children(cls: ast.ClassDef, units: set[str], undefined_ok: set[str]) -> list[str]:
    """Units (and undefined capitalised names) the class calls, in order of first call."""
    found: list[str] = []
    for node in ast.walk(cls):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            ident = node.func.id
            if ident != cls.name and (ident in units or ident in undefined_ok) and ident not in found:
                found.append(ident)
    return sorted(
        found,
        key=lambda n: min(
            c.lineno
            for c in ast.walk(cls)
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == n
        ),
    )


def _undefined_calls(cls: ast.ClassDef, defined: set[str]) -> set[str]:
    """Capitalised names called inside the class that the file does not define: unwritten units."""
    local = {n.id for n in ast.walk(cls) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    out = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            ident = node.func.id
            if ident[:1].isupper() and ident not in defined and ident not in _BUILTINS and ident not in local:
                out.add(ident)
    return out


def _wrapped_root(gab: ast.ClassDef, candidates: set[str]) -> str | None:
    """The one unit a canonical GAB wraps (`self.root = Unit(...)`; `X, Z = self.root(X, **Z)`;
    `return X, Z`), or None when the GAB does more than that."""
    methods = {n.name: n for n in gab.body if isinstance(n, ast.FunctionDef)}
    init, fwd = methods.get("__init__"), methods.get("_forward")
    if init is None or fwd is None:
        return None
    calls = [
        n
        for n in ast.walk(init)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in candidates
    ]
    if len(calls) != 1:
        return None
    plain_keywords = {"embed_dim", "block_loc", "kwarg_all", "device", "dtype"}
    if (
        any(k.arg is not None and k.arg not in plain_keywords for k in calls[0].keywords)
        or len(calls[0].args) > 2
    ):
        return None
    root_attr = None
    for node in ast.walk(init):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                if node.value is calls[0]:
                    root_attr = target.attr
                elif isinstance(node.value, ast.Call):
                    return None  # the GAB builds a module of its own (a norm, a projection ...)
    if root_attr is None:
        return None
    for stmt in fwd.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.Return)) else None
        if isinstance(value, ast.Call):
            func = value.func
            if not (
                isinstance(func, ast.Attribute)
                and func.attr == root_attr
                and isinstance(func.value, ast.Name)
            ):
                return None
            if any(not isinstance(a, ast.Name) for a in value.args):
                return None
        elif not (isinstance(stmt, ast.Return) and isinstance(value, (ast.Name, ast.Tuple))):
            return None
    return calls[0].func.id  # type: ignore[attr-defined]


def _gab_as_unit(gab: ast.ClassDef, name: str) -> str:
    """Rewrite a GAB that does its own work into a root unit named `name`."""
    cls = copy.deepcopy(gab)
    cls.name = name
    cls.bases = [ast.Name(id="GAUBase", ctx=ast.Load())]
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            names = [a.arg for a in item.args.args]
            if "kwarg_all" not in names:
                at = names.index("block_loc") + 1 if "block_loc" in names else min(3, len(names))
                item.args.args.insert(at, ast.arg(arg="kwarg_all"))
            for node in ast.walk(item):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "__init__"
                    and len(node.args) == 2
                ):
                    node.args.append(ast.Name(id="kwarg_all", ctx=ast.Load()))
    return ast.unparse(ast.fix_missing_locations(cls)) + "\n"


def _closure(uses: set[str], statements: list[_Statement]) -> list[_Statement]:
    """Statements defining what `uses` needs, transitively, in file order."""
    needed = set(uses)
    chosen: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, s in enumerate(statements):
            if i not in chosen and s.defines & needed:
                chosen.add(i)
                needed |= s.uses
                changed = True
    return [s for i, s in enumerate(statements) if i in chosen]


def _unit_code(
    file: _File,
    name: str,
    class_text: str,
    uses: set[str],
    children: list[str],
    declares: dict[str, UnitDecl],
) -> str:
    helpers = _closure(uses, file.helpers)
    needed = uses | {n for h in helpers for n in h.uses}
    tests = [t for t in file.tests if name in t.uses]
    needed |= {n for t in tests for n in t.uses}
    imports = [s.text.strip() for s in file.imports if s.defines & needed]
    parts = [
        f'"""{name}: imported from the single-file design {file.name}."""\n\n',
        "\n".join(imports + [PROTOCOL_IMPORT]) + "\n\n\n",
    ]
    parts += [h.text + "\n\n" for h in helpers]
    parts.append(class_text)
    if children:
        decls = ",\n".join(
            f"    UnitDecl({declares[c].unitname!r}, {declares[c].requirements!r}, "
            f"{declares[c].inputs!r}, {declares[c].outputs!r})"
            for c in children
        )
        parts.append(f"\n\nCHILDREN_DECLARATIONS = [\n{decls},\n]\n")
    parts += ["\n\n" + t.text for t in tests]
    return "".join(parts)


def import_gab_source(source: str, name: str = "imported") -> GAUTree:
    """Factorise the source of a single-file design into a GAU tree (may declare unwritten units)."""
    file = _File(source, name)
    defined = file.defined_names()
    unit_names = set(file.units)
    undefined: set[str] = set()
    for cls in list(file.units.values()) + ([file.gab] if file.gab else []):
        undefined |= _undefined_calls(cls, defined)

    root = None
    class_texts = dict(file.unit_text)
    classes: dict[str, ast.ClassDef] = dict(file.units)
    if file.gab is not None:
        root = _wrapped_root(file.gab, unit_names | undefined)
        if root is None:
            root = _camel(name) or "ImportedBlock"
            while root in unit_names or root in undefined:
                root += "Block"
            class_texts[root] = _gab_as_unit(file.gab, root)
            classes[root] = parse_module(class_texts[root]).body[0]  # type: ignore[assignment]
    if not classes:
        raise TreeError(f"{name}: no GAUBase unit and no GAB class found")

    declares: dict[str, UnitDecl] = {}
    children: dict[str, list[str]] = {}
    for unit, cls in classes.items():
        kids = _children(cls, unit_names, undefined)
        for decl in file.declarations.get(unit, []):
            if decl.unitname not in kids:
                kids.append(decl.unitname)
        children[unit] = kids
        given = {d.unitname: d for d in file.declarations.get(unit, [])}
        for kid in kids:
            if kid not in declares:
                doc = ast.get_docstring(file.units[kid]) if kid in file.units else None
                declares[kid] = given.get(kid) or UnitDecl(
                    kid, (doc or "").strip().split("\n")[0], ["X"], ["Y"]
                )
    if root is None:
        called = {k for kids in children.values() for k in kids}
        roots = [u for u in classes if u not in called]
        if len(roots) != 1:
            raise TreeError(f"{name}: cannot tell the root unit (no GAB class; candidates {sorted(roots)})")
        root = roots[0]

    units: dict[str, GAUNode] = {}
    for unit in classes:
        uses = {n.id for n in ast.walk(classes[unit]) if isinstance(n, ast.Name)}
        code = _unit_code(file, unit, class_texts[unit], uses, children[unit], declares)
        doc = ast.get_docstring(classes[unit]) or ""
        units[unit] = GAUNode(
            name=unit, code=code, spec=doc, args=constructor_args(code, unit), children=children[unit]
        )
    _settle_args(units, root, file.gab_config)
    tree = GAUTree(
        name=name,
        root=root,
        units=units,
        declares=declares,
        metadata={"imported_from": "single-file GAB", "file": name},
    )
    reachable = set(tree.reachable())
    tree.units = {n: u for n, u in units.items() if n in reachable}
    return tree.check(allow_unimplemented=True)


def _settle_args(units: dict[str, GAUNode], root: str, gab_config: dict[str, Any]) -> None:
    """Hyper-parameters: gab_config's values win; a key units default differently and gab_config does
    not set stays out of the tree, so each unit keeps its own default as in the original file."""
    owners: dict[str, list[str]] = {}
    for name, node in units.items():
        for key in node.args:
            owners.setdefault(key, []).append(name)
    for key, names in owners.items():
        if key in gab_config:
            for n in names:
                units[n].args[key] = gab_config[key]
        elif len({repr(units[n].args[key]) for n in names}) > 1:
            for n in names:
                del units[n].args[key]
    for key, value in gab_config.items():
        if key not in owners:
            units[root].args[key] = value


def import_gab_file(path: str | Path) -> GAUTree:
    file = Path(path)
    return import_gab_source(file.read_text(), name=file.stem)
