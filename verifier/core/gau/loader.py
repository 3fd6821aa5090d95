"""Turn composed source into a live module (trusted code only: seeds, tests, the sandbox child).

Untrusted code reaches this function only inside the checker's sandboxed child process.
"""

from __future__ import annotations

import itertools
import linecache
import sys
import types

_counter = itertools.count()


def load_module(source: str, name: str = "gab") -> types.ModuleType:
    """Execute `source` as a fresh module; tracebacks show its lines.

    Imports of torchtune/transformers helpers that imported reference-format designs use resolve to
    our own equivalents when those packages are absent (verifier.core.compat).
    """
    from verifier.core.compat import install

    install()
    module_name = f"genesys_composed_{name}_{next(_counter)}"
    filename = f"<composed:{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(module_name)
    module.__file__ = filename
    code = compile(source, filename, "exec")
    sys.modules[module_name] = module  # dataclasses and pickling look the module up there
    exec(code, module.__dict__)  # noqa: S102 - trusted or sandboxed, see the module docstring
    return module


def load_gab(source: str, name: str = "gab") -> tuple[type, dict]:
    """The `GAB` class and `gab_config` dict of a composed module."""
    module = load_module(source, name)
    gab = getattr(module, "GAB", None)
    if gab is None:
        raise AttributeError("composed module defines no class GAB")
    return gab, dict(getattr(module, "gab_config", {}))
