"""Static safety checks of one unit's code: imports from an allow-list only, and no way to reach
files, the network, processes, the interpreter's internals or builtins by name or attribute tricks.

This is the first of three layers (then the child's audit hooks, then the OS sandbox). It is
deliberately strict about escape hatches ordinary model code never needs (eval, `__subclasses__`,
attribute names built at run time) and lenient about ordinary code.

The rule for names built at run time: whatever turns a string into an attribute (`getattr` and its
siblings, `str.format` templates) must get a string the checker can read — a literal, a variable
bound only to literals, or a string whose literal prefix or suffix rules out every forbidden name
(`f"layer_{i}"`). Everything else that would do it (`vars`, `__dict__`, `operator.attrgetter`,
`getattr` passed around as a value) is refused outright.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
import types

from .categories import ERROR, FORBIDDEN_IMPORT, SANDBOX_VIOLATION
from .report import Finding
from .static_protocol import bound_names
from .string_values import StringValues

# Builtins that run code, touch files or the interpreter, or wait for a human.
FORBIDDEN_BUILTINS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "__import__",
        "__build_class__",
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
# The builtins that turn a string into an attribute: their name argument must be readable.
ATTRIBUTE_BUILTINS = ("getattr", "setattr", "delattr", "hasattr")
# Module-level dunder names design code may read (everything else starting with __ is refused).
SAFE_DUNDER_NAMES = frozenset({"__name__", "__class__", "__doc__", "__qualname__", "__module__", "__file__"})
# Dunder attributes that are harmless to read by a computed name (getattr(x, "__name__")).
SAFE_DUNDER_ATTRIBUTES = frozenset(
    {"__name__", "__qualname__", "__doc__", "__module__", "__class__", "__len__", "__call__", "__init__",
     "__annotations__", "__version__", "__dataclass_fields__"}
)
# Modules that lead out of model code. An attribute spelled like one (`torch.os`, `random._os`,
# `collections._sys`) is refused wherever it is read.
ESCAPE_MODULES = frozenset(
    {
        "os", "posix", "nt", "sys", "subprocess", "posixsubprocess", "ctypes", "importlib", "builtins",
        "socket", "shutil", "pty", "multiprocessing", "pathlib", "io", "pickle", "marshal", "signal",
        "inspect", "gc", "runpy", "tempfile", "copyreg", "atexit", "traceback", "types", "weakref",
        "threading", "thread", "urllib", "http", "ftplib", "smtplib", "sqlite3", "webbrowser",
        "faulthandler", "mmap", "fcntl", "shelve", "dill", "cloudpickle", "zipimport", "pkgutil",
        "sysconfig", "asyncio", "concurrent", "resource",
    }
)

# Attribute names that lead out of model code: interpreter internals, frames, and the members of
# os/sys-like modules (`torch.os`, `np.sys` reach them without importing them).
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "__globals__", "__builtins__", "__subclasses__", "__bases__", "__base__", "__mro__", "mro",
        "__code__", "__closure__", "__dict__", "__getattribute__", "__import__", "__loader__", "__spec__",
        "__reduce__", "__reduce_ex__", "__self__", "__objclass__", "__traceback__", "__defaults__",
        "__kwdefaults__", "__init_subclass__",
        # frames, tracebacks, generators, code objects
        "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "f_trace", "tb_frame", "tb_next",
        "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code",
        "co_code", "co_consts", "co_names", "_getframe", "_current_frames", "currentframe", "settrace",
        "setprofile", "addaudithook",
        # string -> attribute or code, outside getattr
        "attrgetter", "methodcaller", "getattr_static", "get_type_hints", "ForwardRef", "_eval_type",
        "Formatter", "make_dataclass",
        # the operating system
        "environ", "getenv", "putenv", "unsetenv", "system", "popen", "fork", "forkpty", "execv", "execve",
        "execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "spawnl",
        "spawnle", "posix_spawn", "posix_spawnp", "kill", "killpg", "unlink", "rmtree", "tofile",
        "from_file", "load_library", "cpp_extension", "dlopen", "CDLL", "cdll", "PyDLL", "pydll",
        "pythonapi", "urlopen",
    }
    | ESCAPE_MODULES
    - {"threading", "thread", "types", "weakref", "concurrent", "resource", "asyncio", "nt"}  # common words
)
# Methods a unit must not define: they make pickling or copying run chosen code.
FORBIDDEN_METHODS = frozenset({"__reduce__", "__reduce_ex__"})

_FORMAT_ESCAPE = re.compile(r"\{[^{}]*[.\[](__\w+|f_\w+|tb_\w+|gi_\w+|cr_\w+|co_\w+)")
_DANGEROUS_STRINGS = (
    "__import__",
    "__builtins__",
    "__subclasses__",
    "__globals__",
    "__getattribute__",
    "__code__",
    "__dict__",
    "__mro__",
    "__bases__",
    "__reduce__",
    "__closure__",
    "f_globals",
    "f_back",
    "f_builtins",
    "gi_frame",
    "tb_frame",
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


def escape_attribute(name: str) -> bool:
    """True for an attribute name that leads out of model code (see FORBIDDEN_ATTRIBUTES)."""
    return name in FORBIDDEN_ATTRIBUTES or name.lstrip("_") in ESCAPE_MODULES and name.startswith("_")


def unsafe_attribute_name(name: str, writing: bool = False) -> bool:
    """A name `getattr`/`setattr` must not be given: forbidden, a builtin escape, or a dunder."""
    if escape_attribute(name) or name in FORBIDDEN_BUILTINS or name.lstrip("_") in ESCAPE_MODULES:
        return True
    dunder = name.startswith("__") and name.endswith("__")
    return dunder and (writing or name not in SAFE_DUNDER_ATTRIBUTES)


_UNSAFE_WORDS = tuple(sorted(FORBIDDEN_ATTRIBUTES | FORBIDDEN_BUILTINS | ESCAPE_MODULES))


def safe_affixes(prefix: str, suffix: str) -> bool:
    """Whether a string known only by its literal `prefix` and `suffix` can never be a name that
    `unsafe_attribute_name` refuses: no forbidden name starts with the prefix (and a prefix without
    a leading underscore cannot start a dunder), or none ends with the suffix."""
    if prefix and not prefix.startswith("_") and not any(w.startswith(prefix) for w in _UNSAFE_WORDS):
        return True
    return bool(suffix) and not suffix.endswith("_") and not any(w.endswith(suffix) for w in _UNSAFE_WORDS)


# ---- what an allowed module's member really is --------------------------------------------------
_IMPORTABLE_ROOTS = frozenset(
    {"torch", "numpy", "einops", "math", "cmath", "typing", "dataclasses", "functools", "itertools",
     "collections", "abc", "enum", "numbers", "operator", "copy", "warnings", "random", "string", "re",
     "logging", "contextlib", "fractions", "decimal", "statistics", "heapq", "bisect", "time"}
)


def _module_of(obj: object) -> str | None:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        module = getattr(obj, "__module__", None)
        return module if isinstance(module, str) else None
    return None


def _submodule(dotted: str, root: str) -> types.ModuleType | None:
    if root not in _IMPORTABLE_ROOTS and root not in sys.modules:
        return None
    try:
        if importlib.util.find_spec(dotted) is None:
            return None
        return importlib.import_module(dotted)
    except Exception:  # noqa: BLE001 - not a submodule (or it does not import): use the attribute
        return None


def escape_through_member(qualified: str, allowed: tuple[str, ...]) -> str | None:
    """Walk `qualified` (e.g. "random._os") through the real, trusted library modules without running
    anything of theirs (module dictionaries only) and say where it leaves the allow-list: a module
    that is not allowed, or a function of one of the escape modules (re-exported `os.system`)."""
    parts = qualified.split(".")
    root = parts[0]
    module = sys.modules.get(root)
    if module is None and root in _IMPORTABLE_ROOTS:
        try:
            module = importlib.import_module(root)
        except Exception:  # noqa: BLE001 - a library that does not import cannot be walked
            return None
    obj: object = module
    for i in range(1, len(parts)):
        dotted = ".".join(parts[: i + 1])
        if dotted in sys.modules:
            obj = sys.modules[dotted]
        elif isinstance(obj, types.ModuleType):
            # A submodule of a trusted library wins over a same-named attribute (`transformers.utils.
            # logging` is transformers' module, not the stdlib one its package may also bind), so the
            # verdict does not depend on what this process happened to import before.
            obj = _submodule(dotted, root) or vars(obj).get(parts[i], None)
        else:
            return None
        if obj is None:
            return None
        where = _module_of(obj)
        if where is None:
            continue
        top = where.split(".")[0].lstrip("_")
        if isinstance(obj, types.ModuleType):
            on_the_way = i < len(parts) - 1 and where == dotted and _module_allowed(qualified, allowed)
            if not on_the_way and not _module_allowed(where, allowed):  # a package on the way to an allowed module is fine
                return f"{dotted} is the module {where}, which is not in the allow-list"
        elif top in ESCAPE_MODULES:
            return f"{dotted} is {where}.{getattr(obj, '__name__', parts[i])}, which is forbidden"
        elif where == "builtins" and getattr(obj, "__name__", "") in FORBIDDEN_BUILTINS | set(ATTRIBUTE_BUILTINS):
            return f"{dotted} is the builtin {obj.__name__}, which is forbidden"  # type: ignore[attr-defined]
    return None


class _Checker:
    def __init__(self, unit: str, module: ast.Module, allowed: tuple[str, ...], forbidden: tuple[str, ...],
                 protocol_import):
        self.unit = unit
        self.allowed = allowed
        self.forbidden = forbidden
        self.is_protocol_import = protocol_import
        self.aliases: dict[str, str] = {}  # local name -> module or member it stands for
        self.findings: list[Finding] = []
        self.strings = StringValues(module)

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
            escape = escape_through_member(qualified, self.allowed)
            if escape or escape_attribute(alias.name):
                self.error(FORBIDDEN_IMPORT, node, f"imports {qualified}: {escape or 'forbidden name'}")
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
        if escape_attribute(node.attr):
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
                return
            escape = escape_through_member(qualified, self.allowed)
            if escape:
                self.error(SANDBOX_VIOLATION, node, f"{escape}: forbidden in design code")
        if node.attr in ("format", "format_map") and isinstance(node.ctx, ast.Load):
            self.check_format_receiver(node.value, node)

    def check_format_receiver(self, receiver: ast.expr, node: ast.AST) -> None:
        """`template.format(obj)` reads attributes of `obj` named in the template: it must be readable."""
        if isinstance(receiver, ast.Name) and receiver.id == "str":
            return  # str.format(template, ...): judged at the call
        self._check_template(self.strings.values(receiver), node)

    def _check_template(self, templates: set[str] | None, node: ast.AST) -> None:
        if templates is None:
            self.error(
                SANDBOX_VIOLATION,
                node,
                "str.format with a template built at run time is forbidden (a template can read "
                "attributes: '{0.__class__}'); write the template as a literal or use an f-string",
            )
        elif any(_FORMAT_ESCAPE.search(t) for t in templates):
            self.error(SANDBOX_VIOLATION, node, "a format template that reads interpreter internals is forbidden")

    def check_call(self, node: ast.Call, shadowed: set[str]) -> None:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("format", "format_map")
            and isinstance(func.value, ast.Name)
            and func.value.id == "str"
            and "str" not in shadowed
        ):
            self._check_template(self.strings.values(node.args[0]) if node.args else set(), node)
            return
        if not (isinstance(func, ast.Name) and func.id in ATTRIBUTE_BUILTINS) or func.id in shadowed:
            return
        if len(node.args) < 2 or any(isinstance(a, ast.Starred) for a in node.args[:2]):
            self.error(
                SANDBOX_VIOLATION, node, f"{func.id} must be called with the object and the attribute name"
            )
            return
        target, attr = node.args[0], node.args[1]
        if isinstance(target, ast.Name) and target.id == "__builtins__":
            return  # reported as a forbidden name
        writing = func.id in ("setattr", "delattr")
        module = self.qualified(target)
        names = self.strings.values(attr)
        if names is None:
            prefix, suffix = self.strings.affixes(attr)
            if module is None and safe_affixes(prefix, suffix):
                return
            where = f"module {module}" if module else "an object"
            self.error(
                SANDBOX_VIOLATION,
                node,
                f"{func.id} on {where} with an attribute name built at run time is forbidden: write the "
                "attribute out (e.g. self.proj, F.gelu), or keep the parts in an nn.ModuleDict or a dict",
            )
            return
        for name in sorted(names):
            if unsafe_attribute_name(name, writing):
                self.error(SANDBOX_VIOLATION, node, f"{func.id}(..., {name!r}) reaches a forbidden attribute")
                return
            if module is None:
                continue
            banned = _member_forbidden(f"{module}.{name}", self.forbidden)
            escape = escape_through_member(f"{module}.{name}", self.allowed)
            if banned or escape:
                self.error(SANDBOX_VIOLATION, node, f"{func.id} reaches {banned or escape}, which is forbidden")
                return
            if writing:
                self.error(
                    SANDBOX_VIOLATION,
                    node,
                    f"{func.id} on module {module} changes a library for every design: forbidden",
                )
                return

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

    def check_name(self, node: ast.Name, shadowed: set[str], called: set[int]) -> None:
        ident = node.id
        dunder = ident.startswith("__") and ident.endswith("__")
        if (dunder and ident not in SAFE_DUNDER_NAMES) or (ident in FORBIDDEN_BUILTINS and ident not in shadowed):
            self.error(
                SANDBOX_VIOLATION,
                node,
                f"{ident} is forbidden in design code (runs code, touches files or reaches the interpreter)",
            )
        elif ident in ATTRIBUTE_BUILTINS and ident not in shadowed and id(node) not in called:
            self.error(
                SANDBOX_VIOLATION,
                node,
                f"{ident} used as a value (passed, stored or renamed) is forbidden: call it directly "
                "with a literal attribute name",
            )
        elif self.aliases.get(ident) is not None:
            banned = _member_forbidden(self.aliases[ident], self.forbidden)
            if banned:
                self.error(SANDBOX_VIOLATION, node, f"{self.aliases[ident]} is forbidden")


def check_unit_safety(
    name: str, module: ast.Module, allowed: tuple[str, ...], forbidden: tuple[str, ...], protocol_import
) -> list[Finding]:
    """Forbidden-import and sandbox-violation findings for one parsed unit."""
    checker = _Checker(name, module, allowed, forbidden, protocol_import)
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
    called = {id(n.func) for n in ast.walk(module) if isinstance(n, ast.Call)}
    for node in ast.walk(module):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            checker.check_name(node, shadowed, called)
        elif isinstance(node, ast.Attribute):
            if not isinstance(node.ctx, ast.Load):
                checker.check_store(node)
            checker.check_attribute(node)
        elif isinstance(node, ast.Call):
            checker.check_call(node, shadowed)
        elif isinstance(node, ast.Constant) and id(node) not in prose:
            checker.check_string(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in FORBIDDEN_METHODS:
            checker.error(
                SANDBOX_VIOLATION, node, f"defining {node.name} is forbidden: copying the object would run it"
            )
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
