"""Static protocol checks of one unit's code: does it parse, and does it follow the GAU protocol?

Nothing is executed: the checks read the AST, so they run in the web or worker process. Each
finding names the unit and the line in that unit's own code, which is what an LLM coder (or a
researcher) needs to fix it.
"""

from __future__ import annotations

import ast
import builtins

from verifier.core.pyparse import parse_module

from .categories import ERROR, PROTOCOL, SYNTAX, WARNING
from .report import Finding

REQUIRED_INIT_ARGS = ("embed_dim", "block_loc", "kwarg_all")
BUILTIN_NAMES = frozenset(dir(builtins))
# Names every composed module binds through the inlined protocol's own imports.
PROTOCOL_NAMES = frozenset(
    {
        "GAUBase",
        "GABBase",
        "UnitDecl",
        "gau_test",
        "torch",
        "nn",
        "functools",
        "inspect",
        "dataclass",
        "field",
    }
)


def parse_unit(name: str, code: str) -> tuple[ast.Module | None, list[Finding]]:
    try:
        return parse_module(code), []
    except SyntaxError as exc:
        message = f"{exc.msg}" + (f": {exc.text.strip()}" if exc.text else "")
        return None, [Finding(SYNTAX, ERROR, name, exc.lineno, message, stage="static")]


def bound_names(module: ast.Module) -> set[str]:
    """Every name the module binds anywhere (conservative: bound once counts as defined)."""
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
    return names


def _is_test(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        _base_name(d.func if isinstance(d, ast.Call) else d).split(".")[-1] == "gau_test"
        for d in node.decorator_list
    )


def _walk_without_tests(module: ast.Module):
    for stmt in module.body:
        if not _is_test(stmt):
            yield from ast.walk(stmt)


def _base_name(base: ast.expr) -> str:
    if isinstance(base, ast.Name):
        return base.id
    if isinstance(base, ast.Attribute):
        parts = [base.attr]
        value = base.value
        while isinstance(value, ast.Attribute):
            parts.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name):
            parts.append(value.id)
        return ".".join(reversed(parts))
    if isinstance(base, ast.Subscript):
        return _base_name(base.value)
    return ""


def is_gau_class(node: ast.ClassDef) -> bool:
    return any(_base_name(b).split(".")[-1] == "GAUBase" for b in node.bases)


def is_module_class(node: ast.ClassDef) -> bool:
    """A subclass of torch.nn.Module or of any nn.* layer (syntactically)."""
    for b in node.bases:
        full = _base_name(b)
        if full in ("Module", "nn.Module", "torch.nn.Module") or full.startswith(("nn.", "torch.nn.")):
            return True
    return False


def _methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}  # type: ignore[misc]


def _calls_super_init(func: ast.FunctionDef) -> bool:
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
        ):
            target = node.func.value
            if (
                isinstance(target, ast.Call)
                and isinstance(target.func, ast.Name)
                and target.func.id == "super"
            ):
                return True
            if isinstance(target, ast.Name) and target.id in ("GAUBase", "nn", "torch"):
                return True
    return False


def _check_init(name: str, init: ast.FunctionDef) -> list[Finding]:
    out: list[Finding] = []
    args = init.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    if positional[1:4] != list(REQUIRED_INIT_ARGS):
        got = ", ".join(positional[1:4]) or "nothing"
        out.append(
            Finding(
                PROTOCOL,
                ERROR,
                name,
                init.lineno,
                f"__init__ must take (self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, "
                f"**kwargs); its first arguments are {got}",
                stage="static",
            )
        )
    if args.kwarg is None:
        out.append(
            Finding(
                PROTOCOL,
                ERROR,
                name,
                init.lineno,
                "__init__ must accept **kwargs: every unit receives all hyper-parameters of the design",
                stage="static",
            )
        )
    named = set(positional) | {a.arg for a in args.kwonlyargs}
    missing = [a for a in ("device", "dtype") if a not in named]
    if missing and args.kwarg is None:
        out.append(
            Finding(
                PROTOCOL,
                ERROR,
                name,
                init.lineno,
                f"__init__ must accept {' and '.join(missing)} (the factory keyword arguments)",
                stage="static",
            )
        )
    if not _calls_super_init(init):
        out.append(
            Finding(
                PROTOCOL,
                ERROR,
                name,
                init.lineno,
                "__init__ never calls super().__init__(embed_dim, block_loc, kwarg_all)",
                stage="static",
            )
        )
    return out


def _instantiations(cls: ast.ClassDef, candidates: set[str]) -> dict[str, int]:
    """Child unit names called inside the class, with the first line where each is called."""
    found: dict[str, int] = {}
    for node in ast.walk(cls):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in candidates:
            found.setdefault(node.func.id, node.lineno)
    return found


def _child_attributes(init: ast.FunctionDef, children: set[str]) -> set[str]:
    """`self.attr` names assigned a child unit instance directly in __init__."""
    attrs: set[str] = set()
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and func.id in children:
                for target in node.targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                    ):
                        attrs.add(target.attr)
    return attrs


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _misuse_of_pair(use: ast.expr, parent: ast.AST | None) -> str | None:
    """How `use` (a unit's output pair, or a name bound to it) is used as if it were a tensor, or
    None for the legal uses: unpacking, `[0]`/`[1]`, returning it, passing it on."""
    if isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.Compare)) or (
        isinstance(parent, ast.AugAssign) and parent.value is use
    ):
        return "in arithmetic"
    if isinstance(parent, ast.Attribute) and parent.value is use and parent.attr not in ("count", "index"):
        return f"with .{parent.attr}"
    if isinstance(parent, ast.Subscript) and parent.value is use:
        index = parent.slice
        try:
            literal = ast.literal_eval(index)
        except (ValueError, TypeError, SyntaxError):
            literal = None  # a computed index: the runtime checks judge it
        if isinstance(index, (ast.Slice, ast.Tuple)) or (isinstance(literal, int) and literal not in (0, 1, -1, -2)):
            return "indexed like a tensor"
    return None


def _single_assignments(func: ast.AST) -> set[str]:
    counts: dict[str, int] = {}
    for node in ast.walk(func):
        for target in node.targets if isinstance(node, ast.Assign) else ():
            for named in ast.walk(target):
                if isinstance(named, ast.Name):
                    counts[named.id] = counts.get(named.id, 0) + 1
    return {n for n, c in counts.items() if c == 1}


def _pair_misuse(func: ast.AST, call: ast.Call, parents: dict[int, ast.AST], single: set[str]) -> str | None:
    """How the pair returned by `call` is used as a tensor: directly, or through the one name it is
    assigned to (a name assigned more than once is not followed)."""
    parent = parents.get(id(call))
    misuse = _misuse_of_pair(call, parent)
    if misuse or not (isinstance(parent, ast.Assign) and len(parent.targets) == 1):
        return misuse
    target = parent.targets[0]
    if not (isinstance(target, ast.Name) and target.id in single):
        return None
    for use in ast.walk(func):
        if isinstance(use, ast.Name) and use.id == target.id and isinstance(use.ctx, ast.Load):
            misuse = _misuse_of_pair(use, parents.get(id(use)))
            if misuse:
                return f"(as {target.id}) {misuse}"
    return None


def _check_child_calls(name: str, cls: ast.ClassDef, child_attrs: set[str]) -> list[Finding]:
    """A child returns the pair (Y, Z). Legal: `Y, Z = self.child(X, **Z)`, `self.child(X, **Z)[0]`
    (the unit drops the child's Z updates), `out = ...; Y = out[0]`, returning or passing the pair on.
    An error only where the pair is certainly used as a tensor (arithmetic, `.view`, `[:, -1]`);
    anything else is left to the runtime checks, which judge what the unit computes."""
    out: list[Finding] = []
    parents = _parents(cls)
    for func in (n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        single = _single_assignments(func)
        for node in ast.walk(func):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner, child = node.func.value, node.func.attr
            if not (isinstance(owner, ast.Name) and owner.id == "self" and child in child_attrs):
                continue
            form = f"`Y, Z = self.{child}(X, **Z)`"
            misuse = _pair_misuse(func, node, parents, single)
            if misuse:
                severity, message = ERROR, (
                    f"the result of child self.{child} is the pair (Y, Z) but is used {misuse} as if it "
                    f"were a tensor: write {form} or `self.{child}(X, **Z)[0]`"
                )
            elif not node.args:
                severity, message = ERROR, f"call of child self.{child} must pass the sequence X first: {form}"
            elif not any(k.arg is None for k in node.keywords):
                severity, message = WARNING, (
                    f"call of child self.{child} passes no intermediate variables; the protocol's form is {form}"
                )
            else:
                continue
            out.append(Finding(PROTOCOL, severity, name, node.lineno, message, stage="static"))
    return out


def check_unit_protocol(
    name: str, code: str, children: list[str], unit_names: set[str], other_definitions: dict[str, str]
) -> list[Finding]:
    """Protocol findings for unit `name`. `unit_names`: every unit of the tree, implemented or declared;
    `other_definitions`: top-level names defined by other units' code, mapped to that unit."""
    module, findings = parse_unit(name, code)
    if module is None:
        return findings
    classes = [n for n in ast.walk(module) if isinstance(n, ast.ClassDef)]
    unit_cls = next((c for c in module.body if isinstance(c, ast.ClassDef) and c.name == name), None)
    if unit_cls is None:
        return [
            Finding(PROTOCOL, ERROR, name, None, f"the unit's code defines no class {name}", stage="static")
        ]
    if not is_gau_class(unit_cls):
        findings.append(
            Finding(
                PROTOCOL, ERROR, name, unit_cls.lineno, f"class {name} must subclass GAUBase", stage="static"
            )
        )
    for cls in classes:
        if cls is unit_cls:
            continue
        if is_gau_class(cls):
            findings.append(
                Finding(
                    PROTOCOL,
                    ERROR,
                    name,
                    cls.lineno,
                    f"one GAUBase class per unit: {cls.name} must be a unit of its own",
                    stage="static",
                )
            )
        elif any(_base_name(b).split(".")[-1] == "GABBase" for b in cls.bases) or cls.name == "GAB":
            findings.append(
                Finding(
                    PROTOCOL,
                    ERROR,
                    name,
                    cls.lineno,
                    "a unit must not define the block (GAB): it is generated from the tree",
                    stage="static",
                )
            )
        elif is_module_class(cls):
            findings.append(
                Finding(
                    PROTOCOL,
                    ERROR,
                    name,
                    cls.lineno,
                    f"extra nn.Module class {cls.name} inside unit {name}: make it a child unit "
                    "(a GAUBase of its own) or use torch.nn layers directly",
                    stage="static",
                )
            )

    methods = _methods(unit_cls)
    init = methods.get("__init__")
    if init is None:
        findings.append(
            Finding(
                PROTOCOL, ERROR, name, unit_cls.lineno, f"class {name} defines no __init__", stage="static"
            )
        )
    else:
        findings.extend(_check_init(name, init))
    if "forward" in methods:
        findings.append(
            Finding(
                PROTOCOL,
                ERROR,
                name,
                methods["forward"].lineno,
                "a unit must not override forward(); implement _forward(self, X, **Z)",
                stage="static",
            )
        )
    fwd = methods.get("_forward")
    if fwd is None:
        findings.append(
            Finding(
                PROTOCOL,
                ERROR,
                name,
                unit_cls.lineno,
                f"class {name} defines no _forward(self, X, **Z)",
                stage="static",
            )
        )
    elif len(fwd.args.posonlyargs + fwd.args.args) < 2:
        findings.append(
            Finding(
                PROTOCOL,
                ERROR,
                name,
                fwd.lineno,
                "_forward must take the input sequence: _forward(self, X, **Z)",
                stage="static",
            )
        )

    # Children: declared ones instantiated, instantiated ones declared.
    defined_here = bound_names(module)
    candidates = (unit_names | set(children)) - {name} - defined_here
    made = _instantiations(unit_cls, candidates)
    for child in children:
        if child not in made:
            findings.append(
                Finding(
                    PROTOCOL,
                    ERROR,
                    name,
                    unit_cls.lineno,
                    f"declares child {child} but never instantiates it",
                    stage="static",
                )
            )
    for child, line in made.items():
        if child not in children:
            findings.append(
                Finding(
                    PROTOCOL,
                    ERROR,
                    name,
                    line,
                    f"instantiates {child} without declaring it as a child",
                    stage="static",
                )
            )
    if init is not None:
        findings.extend(_check_child_calls(name, unit_cls, _child_attributes(init, set(children))))

    # Names used but defined nowhere in this unit: another unit's helper, or a plain NameError.
    # Unit tests are not composed into the module that runs, so they are left out.
    reported: set[str] = set()
    for node in _walk_without_tests(module):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            ident = node.id
            if ident in defined_here or ident in BUILTIN_NAMES or ident in candidates or ident in reported:
                continue
            if ident in PROTOCOL_NAMES or (ident.startswith("__") and ident.endswith("__")):
                continue  # module dunders (__name__, __builtins__ ...): the safety check judges them
            reported.add(ident)
            if ident in other_definitions:
                findings.append(
                    Finding(
                        PROTOCOL,
                        WARNING,
                        name,
                        node.lineno,
                        f"uses {ident}, defined in unit {other_definitions[ident]}: units should be "
                        "self-contained",
                        stage="static",
                    )
                )
            else:
                findings.append(
                    Finding(
                        PROTOCOL, ERROR, name, node.lineno, f"name {ident!r} is not defined", stage="static"
                    )
                )
    return findings
