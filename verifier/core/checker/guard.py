"""Audit hooks for the sandboxed child: the second layer, between the static checks and the OS.

Once installed (after the runner has imported what it needs, before the design's code is loaded),
Python-level attempts to start processes, open sockets, load native code, unpickle, inspect the
heap, change limits, write files outside the private temporary directory or read files outside
the interpreter's own are refused with PermissionError("sandbox: ..."). Each attempt is also
recorded, so a design that swallows the exception is still reported. Audit hooks cannot be
removed from Python code; they do not stop native code, which the OS sandbox is there for.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

# Events refused outright (prefix match on the event name).
BLOCKED_PREFIXES = (
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.killpg",
    "os.putenv",
    "os.unsetenv",
    "os.startfile",
    "subprocess.",
    "pty.",
    "socket.",
    "urllib.",
    "http.client.",
    "ftplib.",
    "smtplib.",
    "poplib.",
    "imaplib.",
    "nntplib.",
    "telnetlib.",
    "webbrowser.",
    "ctypes.",
    "pickle.find_class",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "resource.setrlimit",
    "resource.prlimit",
    "signal.pthread_kill",
    "builtins.input",
    "builtins.breakpoint",
    "sys.remote_exec",
    "sqlite3.",
)
# Events that name a path: allowed inside the writable roots only.
PATH_EVENTS = (
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.link",
    "os.symlink",
    "os.truncate",
    "os.utime",
    "os.chflags",
    "os.lchown",
    "shutil.",
)
# Modules whose first import is refused (already-imported ones are caught at use by the events above).
BLOCKED_IMPORTS = frozenset(
    {
        "subprocess",
        "socket",
        "_socket",
        "ctypes",
        "_ctypes",
        "multiprocessing",
        "pty",
        "http.client",
        "urllib.request",
        "ftplib",
        "smtplib",
        "requests",
        "asyncio.subprocess",
        "_posixsubprocess",
        "sqlite3",
    }
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Guard:
    def __init__(self, read_roots: list[str], write_roots: list[str], on_violation: Callable[[dict], None]):
        self.read_roots = tuple(os.path.realpath(r) for r in read_roots)
        self.write_roots = tuple(os.path.realpath(r) for r in write_roots)
        self.on_violation = on_violation
        self.violations: list[dict] = []
        self._busy = False

    def install(self) -> None:
        sys.addaudithook(self._hook)

    # ---- the hook --------------------------------------------------------------------------------
    def _hook(self, event: str, args: tuple) -> None:
        if self._busy:
            return
        reason = self._reason(event, args)
        if reason is None:
            return
        self._busy = True  # recording must not re-enter the hook (traceback reads source files)
        try:
            frames = [
                [f.lineno, f.name]
                for f in traceback.extract_stack()[:-2]
                if f.filename.startswith("<composed:")
            ]
            record = {"event": event, "reason": reason, "frames": frames}
            self.violations.append(record)
            self.on_violation(record)
        finally:
            self._busy = False
        raise PermissionError(f"sandbox: {reason} is not allowed")

    def _reason(self, event: str, args: tuple) -> str | None:
        if event == "open":
            return self._open_reason(args)
        if event == "import":
            name = str(args[0]) if args else ""
            if name in BLOCKED_IMPORTS or name.split(".")[0] in BLOCKED_IMPORTS:
                return f"importing {name}"
            return None
        if event.startswith(BLOCKED_PREFIXES):
            return event
        if event.startswith(PATH_EVENTS):
            for arg in args:
                if isinstance(arg, (str, bytes, os.PathLike)) and not self._under(arg, self.write_roots):
                    return f"{event} on {os.fsdecode(arg)}"
        return None

    def _open_reason(self, args: tuple) -> str | None:
        path, mode, flags = (list(args) + [None, None, None])[:3]
        if isinstance(path, int) or path is None:
            return None  # an already-open descriptor
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writing:
            if not self._under(path, self.write_roots):
                return f"writing {os.fsdecode(path)}"
        elif not self._under(path, self.read_roots + self.write_roots):
            return f"reading {os.fsdecode(path)}"
        return None

    @staticmethod
    def _under(path, roots: tuple[str, ...]) -> bool:
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)


def default_read_roots(extra: list[str]) -> list[str]:
    """The interpreter, its libraries and the few system files torch reads; nothing of the user's."""
    import site

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *extra}
    roots.update(p for p in site.getsitepackages() if os.path.isdir(p))
    roots.update(
        (
            "/usr/lib",
            "/usr/lib64",
            "/usr/share/zoneinfo",
            "/lib",
            "/lib64",
            "/etc/ld.so.cache",
            "/etc/localtime",
            "/proc/self",
            "/proc/thread-self",
            "/proc/cpuinfo",
            "/proc/meminfo",
            "/proc/stat",
            "/sys/devices/system/cpu",
            "/sys/fs/cgroup",
            "/dev/null",
            "/dev/urandom",
            "/dev/zero",
            f"/proc/{os.getpid()}",
        )
    )
    return sorted(roots)
