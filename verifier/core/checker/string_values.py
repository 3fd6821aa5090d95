"""What a string expression in a unit can be: the static safety check asks before it accepts a name
built at run time (`getattr(self, name)`, a format template)."""

from __future__ import annotations

import ast
import itertools

_MAX_VALUES = 256  # possible values of one string expression followed before giving up


class StringValues:
    """Possible values of string expressions, from literals and names bound only to literals
    (assignments, `for name in ("a", "b")`); conservative: one binding it cannot read makes the name
    unreadable. Scopes are merged, which only adds possibilities."""

    def __init__(self, module: ast.Module):
        self.bindings: dict[str, list[ast.expr | None]] = {}
        for node in ast.walk(module):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                self._bind(node.target, node.value)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                items = node.iter.elts if isinstance(node.iter, (ast.List, ast.Tuple, ast.Set)) else None
                if isinstance(node.target, ast.Name) and items is not None:
                    self.bindings.setdefault(node.target.id, []).extend(items)
                else:
                    self._unknown(node.target)
            elif isinstance(node, ast.AugAssign):
                self._unknown(node.target)
            elif isinstance(node, ast.arg):
                self.bindings.setdefault(node.arg, []).append(None)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                self._unknown(node.optional_vars)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bindings.setdefault(node.name, []).append(None)
            elif isinstance(node, ast.alias):
                self.bindings.setdefault((node.asname or node.name).split(".")[0], []).append(None)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.bindings.setdefault(node.name, []).append(None)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.bindings.setdefault(target.id, []).append(value)
        elif (
            isinstance(target, (ast.Tuple, ast.List))
            and isinstance(value, (ast.Tuple, ast.List))
            and len(target.elts) == len(value.elts)
        ):
            for t, v in zip(target.elts, value.elts, strict=True):
                self._bind(t, v)
        else:
            self._unknown(target)

    def _unknown(self, target: ast.expr) -> None:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                self.bindings.setdefault(node.id, []).append(None)

    def values(self, node: ast.expr | None, seen: frozenset[str] = frozenset()) -> set[str] | None:
        """Every string `node` can evaluate to, or None when that cannot be read from the code."""
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return {node.value} if isinstance(node.value, str) else None
        if isinstance(node, ast.Name):
            bound = self.bindings.get(node.id)
            if not bound or node.id in seen:
                return None
            out: set[str] = set()
            for value in bound:
                more = self.values(value, seen | {node.id})
                if more is None:
                    return None
                out |= more
            return out if len(out) <= _MAX_VALUES else None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._product([node.left, node.right], seen)
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.FormattedValue) else v for v in node.values]
            if any(isinstance(v, ast.FormattedValue) and (v.conversion != -1 or v.format_spec) for v in node.values):
                return None
            return self._product(parts, seen)
        if isinstance(node, ast.IfExp):
            a, b = self.values(node.body, seen), self.values(node.orelse, seen)
            return None if a is None or b is None else a | b
        return None

    def _product(self, parts: list[ast.expr], seen: frozenset[str]) -> set[str] | None:
        options = [self.values(p, seen) for p in parts]
        if any(o is None for o in options):
            return None
        total = 1
        for o in options:
            total *= len(o)  # type: ignore[arg-type]
        if total > _MAX_VALUES:
            return None
        return {"".join(combo) for combo in itertools.product(*options)}  # type: ignore[arg-type]

    def affixes(self, node: ast.expr) -> tuple[str, str]:
        """The literal prefix and suffix every value of `node` shares ("" when unknown)."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value, node.value
        parts: list[ast.expr]
        if isinstance(node, ast.JoinedStr):
            parts = list(node.values)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            parts = [node.left, node.right]
        else:
            return "", ""
        prefix = ""
        for part in parts:
            known = self.values(part) if not isinstance(part, ast.FormattedValue) else None
            if known is None or len(known) != 1:
                head, _ = self.affixes(part) if not isinstance(part, ast.FormattedValue) else ("", "")
                prefix += head
                break
            prefix += next(iter(known))
        suffix = ""
        for part in reversed(parts):
            known = self.values(part) if not isinstance(part, ast.FormattedValue) else None
            if known is None or len(known) != 1:
                _, tail = self.affixes(part) if not isinstance(part, ast.FormattedValue) else ("", "")
                suffix = tail + suffix
                break
            suffix = next(iter(known)) + suffix
        return prefix, suffix
