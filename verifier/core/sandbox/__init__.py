"""One sandbox for every child that runs generated code: the checker's runtime stage, `verify`'s
training and evaluation, and any other `python -m verifier.core ...` command.

bubblewrap (no network, a read-only view of the system, Python, this package and the paths the
caller names; private writable folders; a fresh unprivileged uid; rlimits; GPU device nodes only on
a GPU host). Where bubblewrap does not work, nothing runs unless the operator sets
`GENESYS_UNSAFE_NO_SANDBOX=1` (then rlimits only, and every report says so). docs/SANDBOX.md.
"""

from __future__ import annotations

from .limits import apply_limits, drop_privileges
from .mode import UNSAFE_ENV, SandboxUnavailable, bubblewrap_problem, resolve_mode, unsafe_allowed
from .process import ModuleResult, SandboxProcess, SandboxSpec, run_module, start_module

__all__ = [
    "UNSAFE_ENV",
    "ModuleResult",
    "SandboxProcess",
    "SandboxSpec",
    "SandboxUnavailable",
    "apply_limits",
    "bubblewrap_problem",
    "drop_privileges",
    "resolve_mode",
    "run_module",
    "start_module",
    "unsafe_allowed",
]
