"""Static safety checks of one unit's code: imports from an allow-list only, and no way to reach
files, the network, processes, the interpreter's internals or builtins by name or attribute tricks.

This is the first of three layers (then the child's audit hooks, then the OS sandbox). It is
deliberately strict about escape hatches ordinary model code never needs (eval, `__subclasses__`,
`getattr` on a module with a computed name) and lenient about ordinary code.
"""

from __future__ import annotations

import ast
import re

from .categories import ERROR, FORBIDDEN_IMPORT, SANDBOX_VIOLATION
from .report import Finding
from .static_protocol import bound_names

# Builtins that run code, touch files or the interpreter, or wait for a human.
FORBIDDEN_BUILTINS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "__import__",
        "open",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "input",
        "help",
        "exit",
        "quit",
        "__builtins__",
        "__loader__",
        "__spec__",
        "copyright",
        "credits",
        "license",
    }
)

# Attribute names that lead out of model code: interpreter internals, frames, and the members of
# os/sys-like modules (`torch.os`, `np.sys` reach them without importing them).
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "__globals__",
        "__builtins__",
        "__subclasses__",
        "__bases__",
        "__base__",
        "__mro__",
        "mro",
        "__code__",
        "__closure__",
        "__dict__",
        "__getattribute__",
        "__import__",
        "__loader__",
        "__spec__",
        "__reduce__",
        "__reduce_ex__",
        "__self__",
        "__objclass__",
        "__traceback__",
        "__defaults__",
        "__kwdefaults__",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "tb_frame",
        "tb_next",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "co_code",
        "os",
        "sys",
        "subprocess",
        "ctypes",
        "importlib",
        "builtins",
        "socket",
        "shutil",
        "pty",
        "multiprocessing",
        "pathlib",
        "io",
        "pickle",
        "marshal",
        "signal",
        "inspect",
        "gc",
        "environ",
        "getenv",
        "putenv",
        "unsetenv",
        "system",
        "popen",
        "fork",
        "forkpty",
        "execv",
        "execve",
        "execl",
        "execle",
        "execlp",
        "execlpe",
        "execvp",
        "execvpe",
        "spawnv",
        "spawnve",
        "spawnl",
        "spawnle",
        "posix_spawn",
        "posix_spawnp",
        "kill",
        "killpg",
        "unlink",
        "rmtree",
        "tofile",
        "from_file",
        "load_library",
        "cpp_extension",
        "dlopen",
        "CDLL",
        "cdll",
        "PyDLL",
        "pydll",
        "pythonapi",
        "urlopen",
    }
)

_FORMAT_ESCAPE = re.compile(r"\{[^{}]*\.(__\w+|f_\w+|tb_\w+|gi_\w+)")
_DANGEROUS_STRINGS = (
    "__import__",
    "__builtins__",
    "__subclasses__",
    "__globals__",
    "__getattribute__",
    "__code__",
)


def _module_allowed(module: str, allowed: tuple[str, ...]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


def _member_forbidden(qualified: str, forbidden: tuple[str, ...]) -> str | None:
    for f in forbidden:
        if qualified == f or qualified.startswith(f + "."):
            return f
    return None


def _chain(node: ast.expr) -> tuple[str | None, list[str]]:
    """`a.b.c` -> ("a", ["b", "c"]); anything not rooted in a plain name -> (None, attrs)."""
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    attrs.reverse()
    return (node.id if isinstance(node, ast.Name) else None), attrs


class _Checker:
    def __init__(self, unit: str, allowed: tuple[str, ...], forbidden: tuple[str, ...], protocol_import):
        self.unit = unit
        self.allowed = allowed
        self.forbidden = forbidden
        self.is_protocol_import = protocol_import
        self.aliases: dict[str, str] = {}  # local name -> module or member it stands for
        self.findings: list[Finding] = []

    def error(self, category: str, node: ast.AST, message: str) -> None:
        self.findings.append(
            Finding(category, ERROR, self.unit, getattr(node, "lineno", None), message, stage="static")
        )

    # ---- imports ---------------------------------------------------------------------------------
    def check_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if self.is_protocol_import(node):
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._import_module(node, alias.name, alias.asname)
            return
        if node.level:
            self.error(
                FORBIDDEN_IMPORT,
                node,
                f"relative import `from {'.' * node.level}{node.module or ''} import "
                f"...`: a unit may import only from the allow-list",
            )
            return
        module = node.module or ""
        for alias in node.names:
            qualified = f"{module}.{alias.name}"
            if alias.name == "*":
                if not _module_allowed(module, self.allowed):
                    self.error(
                        FORBIDDEN_IMPORT, node, f"import from {module!r}, which is not in the allow-list"
                    )
                continue
            if not (_module_allowed(module, self.allowed) or _module_allowed(qualified, self.allowed)):
                self.error(FORBIDDEN_IMPORT, node, f"import from {module!r}, which is not in the allow-list")
                continue
            banned = _member_forbidden(qualified, self.forbidden)
            if banned:
                self.error(
                    FORBIDDEN_IMPORT,
                    node,
                    f"imports {qualified}, which is forbidden ({banned}: files, processes or network)",
                )
                continue
            self.aliases[alias.asname or alias.name] = qualified

    def _import_module(self, node: ast.AST, module: str, asname: str | None) -> None:
        if not _module_allowed(module, self.allowed):
            self.error(FORBIDDEN_IMPORT, node, f"import of {module!r}, which is not in the allow-list")
            return
        banned = _member_forbidden(module, self.forbidden)
        if banned:
            self.error(FORBIDDEN_IMPORT, node, f"import of {module}, which is forbidden ({banned})")
            return
        if asname:
            self.aliases[asname] = module
        else:
            top = module.split(".")[0]
            self.aliases[top] = top

    # ---- names and attributes --------------------------------------------------------------------
    def qualified(self, node: ast.expr) -> str | None:
        root, attrs = _chain(node)
        if root is None or root not in self.aliases:
            return None
        return ".".join([self.aliases[root], *attrs])

    def check_attribute(self, node: ast.Attribute) -> None:
        if node.attr in FORBIDDEN_ATTRIBUTES:
            self.error(
                SANDBOX_VIOLATION,
                node,
                f"attribute .{node.attr} is forbidden: it reaches interpreter "
                "internals, the operating system or files",
            )
            return
        qualified = self.qualified(node)
        if qualified:
            banned = _member_forbidden(qualified, self.forbidden)
            if banned:
                self.error(
                    SANDBOX_VIOLATION,
                    node,
                    f"{qualified} is forbidden (reads or writes files, runs "
                    "processes or reaches the network)",
                )

    def check_call(self, node: ast.Call, shadowed: set[str]) -> None:
        func = node.func
        if not (isinstance(func, ast.Name) and func.id in ("getattr", "setattr", "delattr", "hasattr")):
            return
        if func.id in shadowed or len(node.args) < 2:
            return
        target, attr = node.args[0], node.args[1]
        if isinstance(target, ast.Name) and target.id == "__builtins__":
            return  # reported as a forbidden name
        on_module = self.qualified(target) is not None
        if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
            name = attr.value
            if name in FORBIDDEN_ATTRIBUTES or name in FORBIDDEN_BUILTINS:
                self.error(SANDBOX_VIOLATION, node, f"{func.id}(..., {name!r}) reaches a forbidden attribute")
            elif on_module:
                banned = _member_forbidden(f"{self.qualified(target)}.{name}", self.forbidden)
                if banned:
                    self.error(SANDBOX_VIOLATION, node, f"{func.id} reaches {banned}, which is forbidden")
                elif func.id in ("setattr", "delattr"):
                    self.error(
                        SANDBOX_VIOLATION,
                        node,
                        f"{func.id} on module {self.qualified(target)} "
                        "changes a library for every design: forbidden",
                    )
        elif on_module:
            self.error(
                SANDBOX_VIOLATION,
                node,
                f"{func.id} on module {self.qualified(target)} with a computed "
                "attribute name is forbidden (write the attribute out, e.g. F.gelu)",
            )

    def check_store(self, target: ast.expr) -> None:
        if isinstance(target, ast.Attribute) and self.qualified(target) is not None:
            self.error(
                SANDBOX_VIOLATION,
                target,
                f"assigning {self.qualified(target)} changes a library for every design: forbidden",
            )

    def check_string(self, node: ast.Constant) -> None:
        text = node.value
        if not isinstance(text, str):
            return
        if _FORMAT_ESCAPE.search(text) or any(s in text for s in _DANGEROUS_STRINGS):
            self.error(
                SANDBOX_VIOLATION,
                node,
                "string that spells an interpreter escape (dunder attribute lookup) is forbidden",
            )


def check_unit_safety(
    name: str, module: ast.Module, allowed: tuple[str, ...], forbidden: tuple[str, ...], protocol_import
) -> list[Finding]:
    """Forbidden-import and sandbox-violation findings for one parsed unit."""
    checker = _Checker(name, allowed, forbidden, protocol_import)
    # Imports first (anywhere in the code), so aliases are known when attributes are read.
    for node in ast.walk(module):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            checker.check_import(node)
    # Simple aliases of modules: `m = torch` makes `m` a module too.
    for node in ast.walk(module):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            qualified = (
                checker.qualified(node.value) if isinstance(node.value, (ast.Name, ast.Attribute)) else None
            )
            if qualified:
                checker.aliases[node.targets[0].id] = qualified
    shadowed = bound_names(module) - set(checker.aliases)
    # Bare string statements (docstrings) document; they cannot be used as values.
    prose = {
        id(n.value) for n in ast.walk(module) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }
    for node in ast.walk(module):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in FORBIDDEN_BUILTINS and (node.id not in shadowed or node.id.startswith("__")):
                checker.error(
                    SANDBOX_VIOLATION,
                    node,
                    f"{node.id} is forbidden in design code (runs code, "
                    "touches files or reaches the interpreter)",
                )
            elif checker.aliases.get(node.id) is not None:
                banned = _member_forbidden(checker.aliases[node.id], forbidden)
                if banned:
                    checker.error(SANDBOX_VIOLATION, node, f"{checker.aliases[node.id]} is forbidden")
        elif isinstance(node, ast.Attribute):
            if isinstance(node.ctx, ast.Load):
                checker.check_attribute(node)
            else:
                checker.check_store(node)
                checker.check_attribute(node)
        elif isinstance(node, ast.Call):
            checker.check_call(node, shadowed)
        elif isinstance(node, ast.Constant) and id(node) not in prose:
            checker.check_string(node)
    return _dedupe(checker.findings)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple] = set()
    out: list[Finding] = []
    for f in findings:
        # One escape per line is enough to reject it; a chain like torch.os.system would repeat.
        key = (f.category, f.line, "" if f.category == SANDBOX_VIOLATION else f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
