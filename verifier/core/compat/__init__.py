"""Equivalents of the few third-party names reference-format designs import, so that those designs
run with torch alone: torchtune's RMSNorm and RotaryPositionalEmbeddings, transformers' ACT2FN and
its logging helpers.

`install()` makes `import torchtune.modules`, `import transformers.activations` and
`from transformers.utils import logging` resolve to these modules when the real packages are not
installed; `install(prefer_compat=True)` (the checker's sandbox) uses them even when they are, which
keeps the sandbox fast, reproducible and free of the packages' own file and network access.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

# Module name a design imports -> our module providing it (None: an empty package).
ALIASES: dict[str, str | None] = {
    "torchtune": None,
    "torchtune.modules": "verifier.core.compat.torchtune_modules",
    "transformers": None,
    "transformers.activations": "verifier.core.compat.activations",
    "transformers.utils": None,
    "transformers.utils.logging": "verifier.core.compat.hf_logging",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str | None):
        self.target = target

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        if self.target is None:
            module.__path__ = []  # a package, so its submodules can be imported
        else:
            source = importlib.import_module(self.target)
            module.__dict__.update({k: v for k, v in vars(source).items() if not k.startswith("__")})
        return module

    def exec_module(self, module) -> None:
        return None


class CompatFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in ALIASES:
            return None
        target_module = ALIASES[fullname]
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(target_module), is_package=target_module is None
        )


_FINDER = CompatFinder()


def install(prefer_compat: bool = False) -> None:
    """Register the equivalents: first in line with `prefer_compat`, else only as a fallback."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    if prefer_compat:
        sys.meta_path.insert(0, _FINDER)
    else:
        sys.meta_path.append(_FINDER)
