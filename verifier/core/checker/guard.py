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
import threading
import traceback
from collections.abc import Callable, Iterable

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
    "os.setuid",
    "os.setgid",
    "os.chroot",
)
# Events refused when the design's own code raises them (the innermost Python frame is a line of the
# composed module): code built from strings, code objects, frames and tracing. Libraries may do these
# (dataclasses builds methods with exec, inspect reads __code__), so they are judged by the caller.
DESIGN_FRAME_EVENTS = frozenset(
    {
        "compile",
        "exec",
        "object.__getattr__",  # __code__, gi_frame, tb_frame, f_code ... read from design code
        "object.__setattr__",
        "object.__delattr__",
        "sys._getframe",
        "sys._current_frames",
        "sys.settrace",
        "sys.setprofile",
        "function.__new__",
        "code.__new__",
        "sys.addaudithook",
        "marshal.loads",  # importlib reads .pyc files with it; design code must not
        "marshal.load",
    }
)
# Events that read a directory or file by path: allowed inside the readable and writable roots only.
READ_PATH_EVENTS = ("os.listdir", "os.scandir", "glob.glob", "os.chdir")
COMPOSED_PREFIX = "<composed:"
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
    "tempfile.mkstemp",
    "tempfile.mkdtemp",
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
    """The audit hook. `allowed_programs`: basenames of executables that may be started (the verifier
    on a GPU host may need a compiler for Triton kernels; the checker allows none). `allowed_events`:
    exact event names let through although blocked (the verifier's resume unpickles its own
    checkpoint; the checker allows none)."""

    def __init__(
        self,
        read_roots: list[str],
        write_roots: list[str],
        on_violation: Callable[[dict], None],
        allowed_programs: Iterable[str] = (),
        allowed_events: Iterable[str] = (),
    ):
        self.read_roots = tuple(os.path.realpath(r) for r in read_roots)
        self.write_roots = tuple(os.path.realpath(r) for r in write_roots)
        self.on_violation = on_violation
        self.allowed_programs = frozenset(allowed_programs)
        self.allowed_events = frozenset(allowed_events)
        self.violations: list[dict] = []
        self._local = threading.local()
        self.installed = False

    def install(self) -> None:
        sys.addaudithook(self._hook)
        self.installed = True

    # ---- the hook --------------------------------------------------------------------------------
    def _hook(self, event: str, args: tuple) -> None:
        if getattr(self._local, "busy", False):
            return
        self._local.busy = True  # what the hook itself does (frames, tracebacks) must not re-enter it
        try:
            reason = self._reason(event, args)
            if reason is None:
                return
            frames = [
                [f.lineno, f.name]
                for f in traceback.extract_stack()[:-2]
                if f.filename.startswith(COMPOSED_PREFIX)
            ]
            record = {"event": event, "reason": reason, "frames": frames}
            self.violations.append(record)
            self.on_violation(record)
        finally:
            self._local.busy = False
        raise PermissionError(f"sandbox: {reason} is not allowed")

    def _reason(self, event: str, args: tuple) -> str | None:
        if event in self.allowed_events:
            return None
        if event == "open":
            return self._open_reason(args)
        if event == "import":
            name = str(args[0]) if args else ""
            blocked = BLOCKED_IMPORTS - ({"subprocess", "_posixsubprocess"} if self.allowed_programs else set())
            if name in blocked or name.split(".")[0] in blocked:
                return f"importing {name}"
            return None
        if event in DESIGN_FRAME_EVENTS:
            caller = sys._getframe(2)  # 0 this, 1 _hook, 2 the Python frame that raised the event
            while caller is not None and caller.f_code.co_filename == __file__:
                caller = caller.f_back  # type: ignore[assignment]
            if caller is not None and caller.f_code.co_filename.startswith(COMPOSED_PREFIX):
                detail = f" of {args[1]!r}" if event.startswith("object.") and len(args) > 1 else ""
                return f"{event}{detail} from design code"
            return None
        if self.allowed_programs and event in ("subprocess.Popen", "os.posix_spawn", "os.exec"):
            program = os.path.basename(os.fsdecode(args[0])) if args and args[0] else ""
            if program in self.allowed_programs:
                return None
        if event.startswith(BLOCKED_PREFIXES):
            return event
        if event in READ_PATH_EVENTS and args and isinstance(args[0], (str, bytes, os.PathLike)):
            if not self._under(args[0], self.read_roots + self.write_roots):
                return f"{event} on {os.fsdecode(args[0])}"
            return None
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


def install_guard(
    writable_dirs: Iterable[str],
    readable_dirs: Iterable[str] = (),
    *,
    on_violation: Callable[[dict], None] | None = None,
    allowed_programs: Iterable[str] = (),
    allowed_events: Iterable[str] = (),
) -> Guard:
    """Install the audit hook in this process, for good (audit hooks cannot be removed): from now on
    processes, sockets, native code, unpickling, code built from strings in design code, and file
    access outside `writable_dirs` (read and write) and `readable_dirs` plus the interpreter's own
    files (read only) raise PermissionError("sandbox: ...") and are recorded in `guard.violations`.

    Call it after everything trusted is imported and before the design is loaded: the checker's
    child does, and so does the verifier's sandboxed training process.
    """
    writable = [str(d) for d in writable_dirs]
    guard = Guard(
        default_read_roots([str(d) for d in readable_dirs]),
        writable,
        on_violation or (lambda record: None),
        allowed_programs=allowed_programs,
        allowed_events=allowed_events,
    )
    guard.install()
    return guard
