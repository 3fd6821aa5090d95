"""The first Python a sandboxed module run executes: lower the limits, give up root, then run
`python -m verifier.core` (or another module or script) with the given arguments. Nothing
untrusted has been loaded yet."""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys

from .limits import apply_limits, drop_privileges


def _die_with_parent() -> None:
    """Outside bubblewrap (which does this itself) die with the parent: no orphan keeps training."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> None:
    limits = json.loads(argv[0])
    apply_limits(limits)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; the file-size limit must end the run
    drop_privileges(limits.get("uid"), limits.get("gid"))
    _die_with_parent()  # after the uid change, which clears it
    if limits.get("cwd"):
        os.chdir(limits["cwd"])
    sys.dont_write_bytecode = True
    module, args = argv[1], argv[2:]
    if module.endswith(".py"):  # a script (tests probe the sandbox with one)
        sys.argv = [module, *args]
        runpy.run_path(module, run_name="__main__")
    else:
        sys.argv = [f"python -m {module}", *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
