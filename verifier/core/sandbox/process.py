"""Start `python -m verifier.core ...` (or the checker's child) in the sandbox, follow it, end it.

The parent picks a fresh uid when it is root, hands the writable folders to that uid for the run
and takes them back afterwards (without following links the child may have planted), and kills
everything the child started when it ends.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .bubblewrap import PACKAGE_DIR, PACKAGE_PARENT, Bind, bubblewrap_command, gpu_binds, python_roots
from .mode import resolve_mode

SANDBOX_UID_RANGE = (2_000_000_000, 2_100_000_000)
# How a module run starts: `python -I -B -c ENTER <package parent> <limits json> <module> <args...>`.
ENTER = "import sys; sys.path.insert(0, sys.argv[1]); from verifier.core.sandbox.enter import main; main(sys.argv[2:])"


@dataclass
class SandboxSpec:
    """What a child may see and do. Paths are bound at the same path inside."""

    read_only: Sequence[str | Path] = ()  # visible, read-only (missing ones are skipped)
    writable: Sequence[str | Path] = ()  # visible and writable: the child's private folders
    gpu: bool = False  # bind /dev/nvidia* in (only where the host has them)
    mode: str = "auto"  # auto | bubblewrap | rlimit (see mode.resolve_mode)
    tmp_size_mb: int = 1024  # the private /tmp (a tmpfs: memory is used only when written)
    processes: int = 4096  # RLIMIT_NPROC of the sandbox uid (threads count)
    file_size_mb: int = 64 * 1024
    open_files: int = 4096
    cpu_seconds: int | None = None
    env: dict[str, str] = field(default_factory=dict)  # on top of the clean base environment
    cwd: str | None = None  # default: the first writable folder, else /tmp


def base_environment(home: str, tmp: str, threads: int | None = None) -> dict[str, str]:
    """All a child gets from the environment: nothing of this process's (no keys, no tokens)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "USER": "sandbox", "LOGNAME": "sandbox", "PYTHONUNBUFFERED": "1", "MALLOC_ARENA_MAX": "2",
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_PROXY": "*"}
    if threads is not None:
        n = str(max(1, threads))
        env.update(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n)
    return env


def fresh_uid() -> int:
    return secrets.randbelow(SANDBOX_UID_RANGE[1] - SANDBOX_UID_RANGE[0]) + SANDBOX_UID_RANGE[0]


def world_accessible(paths: list[str]) -> bool:
    """Can an unprivileged user reach these directories (and so run this Python)?"""
    for path in paths:
        p = Path(path)
        for part in [p, *p.parents]:
            try:
                if not os.stat(part).st_mode & 0o001:
                    return False
            except OSError:
                return False
    return True


def sandbox_uid(mode: str) -> tuple[int | None, str]:
    """(the uid the child becomes, a note for the mode description)."""
    if os.geteuid() != 0:
        return None, ""
    if mode == "bubblewrap" or world_accessible(python_roots() + [PACKAGE_DIR]):
        return fresh_uid(), ""
    return None, " as root: the process limit is not enforced"


def hand_over(paths: Sequence[str | Path], uid: int, gid: int) -> None:
    """chown every file under `paths` (links themselves, never what they point to)."""
    for top in paths:
        if not os.path.lexists(top):
            continue
        os.lchown(top, uid, gid)
        if os.path.islink(top):
            continue
        for folder, dirs, files in os.walk(top):
            for name in dirs + files:
                try:
                    os.lchown(os.path.join(folder, name), uid, gid)
                except OSError:
                    pass


def open_up(top: str | Path) -> None:
    """Make what a child wrote under `top` readable by every later child (links left alone)."""
    import stat

    for folder, dirs, files in os.walk(top):
        for name, extra in [(folder, 0o555)] + [(os.path.join(folder, d), 0o555) for d in dirs] + \
                [(os.path.join(folder, f), 0o444) for f in files]:
            try:
                mode = os.lstat(name).st_mode
                if not stat.S_ISLNK(mode):
                    os.chmod(name, stat.S_IMODE(mode) | extra)
            except OSError:
                pass


def descendants(pid: int) -> list[int]:
    """Processes below `pid` (children first), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 1:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    out: list[int] = []
    todo = list(parents.get(pid, []))
    while todo:
        child = todo.pop(0)
        out.append(child)
        todo.extend(parents.get(child, []))
    return out


def processes_of(uid: int | None, session: int) -> list[int]:
    """Live processes owned by `uid` or in `session`."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
            owner = os.stat(f"/proc/{entry}").st_uid
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if not fields or fields[0] == "Z":
            continue
        sid = int(fields[3]) if len(fields) > 3 else -1
        if (uid is not None and owner == uid) or sid == session:
            found.append(int(entry))
    return found


def kill_everything(proc: subprocess.Popen, uid: int | None) -> None:
    """Kill the child's session and, when it ran as its own uid, every process of that uid."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(50):
        victims = processes_of(uid, proc.pid)
        if not victims:
            break
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def identity_files(folder: Path, uid: int | None) -> tuple[Path, Path]:
    """/etc/passwd and /etc/group for inside: root and, when there is one, the sandbox user."""
    passwd, group = folder / "passwd", folder / "group"
    passwd.write_text("root:x:0:0::/:/bin/false\n" + (f"sandbox:x:{uid}:{uid}::/tmp:/bin/false\n" if uid else ""))
    group.write_text("root:x:0:\n" + (f"sandbox:x:{uid}:\n" if uid else ""))
    passwd.chmod(0o644)
    group.chmod(0o644)
    return passwd, group


class SandboxProcess:
    """A started sandboxed child. Use as a context manager: leaving it kills what is left of the
    child and gives the writable folders back to this process's user."""

    def __init__(self, proc: subprocess.Popen, mode: str, uid: int | None, writable: list[str],
                 scratch: tempfile.TemporaryDirectory, started: float):
        self.proc, self.mode, self.uid, self.writable = proc, mode, uid, writable
        self._scratch, self.started = scratch, started

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout)

    @property
    def returncode(self) -> int | None:
        """The child's exit status; a signal that ended it is negative (also through bubblewrap)."""
        rc = self.proc.returncode
        if rc is not None and self.mode.startswith("bubblewrap") and 128 < rc < 128 + 65:
            return -(rc - 128)
        return rc

    def signal(self, sig: int) -> None:
        """Send `sig` to the child's processes (not to bubblewrap, which would die and take them along
        before they could checkpoint)."""
        targets = descendants(self.proc.pid) if self.mode.startswith("bubblewrap") else [self.proc.pid]
        for pid in targets:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        kill_everything(self.proc, self.uid)
        if self.uid is not None:
            hand_over(self.writable, os.getuid(), os.getgid())
        self._scratch.cleanup()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def start_module(args: Sequence[str], spec: SandboxSpec, *, stdout: IO | int | None = None,
                 stderr: IO | int | None = None, pass_fds: Sequence[int] = (),
                 module: str = "verifier.core") -> SandboxProcess:
    """Start `python -m verifier.core *args` in the sandbox; raises SandboxUnavailable (fail closed).
    `module` may name another module, or a script (a path ending in .py) the spec makes visible."""
    mode, description = resolve_mode(spec.mode)
    uid, note = sandbox_uid(mode)
    description += note
    writable = [str(Path(p).resolve()) for p in spec.writable]
    for folder in writable:
        os.makedirs(folder, exist_ok=True)
    read_only = [str(Path(p).resolve()) for p in spec.read_only if os.path.exists(p)]
    scratch = tempfile.TemporaryDirectory(prefix="genesys-sandbox-")
    host = Path(scratch.name)
    os.chmod(host, 0o755)
    limits: dict[str, Any] = {"processes": spec.processes, "file_size": spec.file_size_mb * 1024 * 1024,
                              "open_files": spec.open_files, "cpu_seconds": spec.cpu_seconds, "uid": uid, "gid": uid}
    if mode == "bubblewrap":
        tmp = "/tmp"
    else:
        tmp_dir = host / "tmp"
        tmp_dir.mkdir(mode=0o700)
        if uid is not None:
            os.chown(tmp_dir, uid, uid)
        tmp = str(tmp_dir)
    home = writable[0] if writable else tmp
    env = {**base_environment(home, tmp), **spec.env}
    limits["cwd"] = spec.cwd or home  # entered after the uid change (a folder only that uid may enter)
    command = [sys.executable, "-I", "-B", "-c", ENTER, PACKAGE_PARENT, json.dumps(limits), module, *args]
    popen_user: dict[str, Any] = {}
    if mode == "bubblewrap":
        passwd, group = identity_files(host, uid)
        binds: list[Bind] = [("--ro-bind", str(passwd), "/etc/passwd"), ("--ro-bind", str(group), "/etc/group")]
        binds += [("--ro-bind", p, p) for p in read_only]
        binds += [("--bind", p, p) for p in writable]
        if spec.gpu:
            binds += gpu_binds()
        command = bubblewrap_command(binds, root=os.geteuid() == 0, tmp_size_mb=spec.tmp_size_mb,
                                     shm_size_mb=max(64, spec.tmp_size_mb // 4), chdir="/") + command
    elif uid is not None:
        popen_user = {"user": uid, "group": uid, "extra_groups": []}
    if uid is not None:
        hand_over(writable, uid, uid)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                pass_fds=tuple(pass_fds), start_new_session=True, cwd="/", **popen_user)
    except BaseException:
        if uid is not None:
            hand_over(writable, os.getuid(), os.getgid())
        scratch.cleanup()
        raise
    return SandboxProcess(proc, description, uid, writable, scratch, started)


@dataclass
class ModuleResult:
    returncode: int | None
    stdout: str
    stderr: str
    mode: str
    seconds: float
    timed_out: bool = False


def run_module(args: Sequence[str], spec: SandboxSpec, timeout_s: float = 600.0,
               module: str = "verifier.core") -> ModuleResult:
    """Run `python -m verifier.core *args` in the sandbox to the end (or the wall clock) and return
    its exit status and output. Raises SandboxUnavailable where the sandbox cannot start."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        with start_module(args, spec, stdout=out, stderr=err, module=module) as child:
            timed_out = False
            try:
                child.wait(timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
        seconds = time.monotonic() - child.started
        out.seek(0)
        err.seek(0)
        return ModuleResult(None if timed_out else child.returncode, out.read().decode(errors="replace"),
                            err.read().decode(errors="replace"), child.mode, seconds, timed_out)
