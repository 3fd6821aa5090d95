"""Which isolation a child gets here: bubblewrap, or nothing runs.

The only way to run generated code without bubblewrap is the operator's explicit switch
`GENESYS_UNSAFE_NO_SANDBOX=1`; the mode description then starts with "rlimit-only" and says
"UNSAFE", and the web app shows a banner on every page.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

UNSAFE_ENV = "GENESYS_UNSAFE_NO_SANDBOX"
MODES = ("auto", "bubblewrap", "rlimit")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start here, and generated code must not run without it."""


def unsafe_allowed() -> bool:
    """Has the operator allowed generated code to run with rlimits only (no bubblewrap)?"""
    return os.environ.get(UNSAFE_ENV, "").strip().lower() in ("1", "true", "yes")


@functools.cache
def bubblewrap_problem() -> str | None:
    """None when bubblewrap runs this Python here with the mounts real runs use; else why not."""
    from .bubblewrap import bubblewrap_command

    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="genesys-probe-") as tmp:
        os.chmod(tmp, 0o755)
        passwd = Path(tmp, "passwd")
        passwd.write_text("root:x:0:0::/:/bin/false\n")
        passwd.chmod(0o644)
        cmd = bubblewrap_command(
            [("--ro-bind", str(passwd), "/etc/passwd"), ("--ro-bind", str(passwd), "/etc/group")],
            root=os.geteuid() == 0,
        )
        cmd += [sys.executable, "-I", "-c", "import sys; sys.exit(0)"]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap does not start: {exc}"
        if result.returncode != 0:
            return f"bubblewrap does not work here: {result.stderr.strip()[-300:]}"
    return None


def resolve_mode(requested: str = "auto") -> tuple[str, str]:
    """("bubblewrap" | "rlimit", the description every report carries); raises SandboxUnavailable.

    "auto" and "bubblewrap" both mean bubblewrap; without it, "auto" runs with rlimits only when the
    operator set GENESYS_UNSAFE_NO_SANDBOX=1, "bubblewrap" never. "rlimit" (tests of the rlimits,
    benchmarks) also needs the switch."""
    if requested not in MODES:
        raise ValueError(f"unknown sandbox mode {requested!r} (one of {', '.join(MODES)})")
    if requested == "rlimit":
        if unsafe_allowed():
            return "rlimit", f"rlimit-only (requested; UNSAFE: {UNSAFE_ENV}=1)"
        raise SandboxUnavailable(f"rlimit-only isolation was requested; it runs generated code without "
                                 f"bubblewrap and needs {UNSAFE_ENV}=1")
    problem = bubblewrap_problem()
    if problem is None:
        return "bubblewrap", "bubblewrap"
    if requested == "auto" and unsafe_allowed():
        return "rlimit", f"rlimit-only (UNSAFE: {UNSAFE_ENV}=1; {problem})"
    raise SandboxUnavailable(f"{problem}; generated code does not run without the sandbox "
                             f"(an operator may set {UNSAFE_ENV}=1 to run it with rlimits only, unsafely)")
