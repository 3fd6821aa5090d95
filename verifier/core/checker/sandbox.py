"""Run the checker's child in a sandbox and collect what it reports, whatever the child does.

bubblewrap where it works: new PID, network, IPC and UTS namespaces; a read-only view of /usr,
the Python installation and this package only; a private, size-limited /tmp; no environment but
the few variables set here. Otherwise rlimits only, reported as such. In both modes the child
runs with rlimits (address space, CPU time, processes, file size, open files, no core dumps), as a
fresh unprivileged uid when the parent is root, in its own session; the parent enforces a wall
clock and kills everything the check started. See docs/SANDBOX.md for what this does not cover.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .child import BOOTSTRAP
from .config import CheckConfig

PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])  # the directory holding `verifier/`
PACKAGE_DIR = str(Path(__file__).resolve().parents[2])  # verifier/core
MAX_CHANNEL_BYTES = 16 * 1024 * 1024
SANDBOX_UID_RANGE = (2_000_000_000, 2_100_000_000)


class SandboxUnavailable(RuntimeError):
    """bubblewrap was asked for explicitly and does not work here."""


@dataclass
class SandboxOutcome:
    events: list[dict[str, Any]] = field(default_factory=list)
    returncode: int | None = None
    timed_out: bool = False
    flooded: bool = False
    seconds: float = 0.0
    mode: str = ""
    stderr_tail: str = ""

    @property
    def finished(self) -> bool:
        return any(e.get("event") == "done" for e in self.events)

    @property
    def signal(self) -> int | None:
        """The signal that ended the child, also through bubblewrap (which exits 128 + signal)."""
        rc = self.returncode
        if rc is None:
            return None
        if rc < 0:
            return -rc
        if self.mode.startswith("bubblewrap") and rc > 128 and rc - 128 < 65:
            return rc - 128
        return None


# ---- choosing the mode ---------------------------------------------------------------------------
def _python_roots() -> list[str]:
    import site

    roots = {
        sys.base_prefix,
        sys.prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        str(Path(os.path.realpath(sys.executable)).parent.parent),
    }
    roots.update(p for p in site.getsitepackages() if os.path.isdir(p))
    out: list[str] = []
    for root in sorted(roots, key=len):
        if os.path.isdir(root) and not any(root == o or root.startswith(o.rstrip("/") + "/") for o in out):
            out.append(root)
    return out


def _world_accessible(paths: list[str]) -> bool:
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


def _bind_args(dest_paths: list[tuple[str, str, str]]) -> list[str]:
    """bubblewrap arguments for (kind, source, dest) binds, creating parent directories 0755."""
    args: list[str] = []
    made: set[str] = {"/"}
    for kind, source, dest in dest_paths:
        for parent in reversed(Path(dest).parents):
            text = str(parent)
            if text not in made:
                args += ["--perms", "0755", "--dir", text]
                made.add(text)
        args += [kind, source, dest]
        made.add(dest)
    return args


def bubblewrap_command(job_dir: str, passwd: str, group: str, config: CheckConfig, root: bool) -> list[str]:
    exe = shutil.which("bwrap") or "bwrap"
    args = [
        exe,
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "genesys-sandbox",
    ]
    if root:
        # Without a user namespace bubblewrap would keep root's capabilities: keep only what the
        # child needs to switch to its own uid, which then drops them all.
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user"]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"):
        args += ["--ro-bind-try", etc, etc]
    binds = [("--ro-bind", passwd, "/etc/passwd"), ("--ro-bind", group, "/etc/group")]
    for r in _python_roots():
        if not r.startswith("/usr/"):
            binds.append(("--ro-bind", r, r))
    binds.append(("--ro-bind", PACKAGE_DIR, PACKAGE_DIR))
    binds.append(("--ro-bind", job_dir, "/job"))
    args += _bind_args(binds)
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--size",
        str(config.tmp_size_mb * 1024 * 1024),
        "--tmpfs",
        "/tmp",
        "--perms",
        "1777",
        "--size",
        str(1024 * 1024),
        "--tmpfs",
        "/dev/shm",
        "--chdir",
        "/tmp",
    ]
    return args


@functools.cache
def bubblewrap_problem() -> str | None:
    """None when bubblewrap runs this Python here; else why not (cached per process)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed"
    with tempfile.TemporaryDirectory(prefix="genesys-probe-") as tmp:
        os.chmod(tmp, 0o755)
        passwd = Path(tmp, "passwd")
        passwd.write_text("root:x:0:0::/:/bin/false\n")
        passwd.chmod(0o644)
        cmd = bubblewrap_command(tmp, str(passwd), str(passwd), CheckConfig(), os.geteuid() == 0)
        cmd += [sys.executable, "-I", "-c", "import sys; sys.exit(0)"]
        try:
            result = subprocess.run(
                cmd, capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"}
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap does not start: {exc}"
        if result.returncode != 0:
            return f"bubblewrap does not work here: {result.stderr.strip()[-300:]}"
    return None


def resolve_mode(config: CheckConfig) -> tuple[str, str]:
    """("bubblewrap" | "rlimit", the description that goes into the report)."""
    if config.sandbox not in ("auto", "bubblewrap", "rlimit"):
        raise ValueError(f"unknown sandbox mode {config.sandbox!r}")
    if config.sandbox in ("auto", "bubblewrap"):
        problem = bubblewrap_problem()
        if problem is None:
            return "bubblewrap", "bubblewrap"
        if config.sandbox == "bubblewrap":
            raise SandboxUnavailable(problem)
        return "rlimit", f"rlimit-only ({problem})"
    return "rlimit", "rlimit-only (requested)"


# ---- running -------------------------------------------------------------------------------------
def _user_task_count(uid: int) -> int:
    """Threads of `uid` on this machine: RLIMIT_NPROC counts them all, so the limit starts above."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                status = handle.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def _kill_sandbox(proc: subprocess.Popen, uid: int | None) -> None:
    """Kill the child's session and, when it ran as its own uid, every process of that uid."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(50):
        victims = _processes_of(uid, proc.pid)
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


def _processes_of(uid: int | None, session: int) -> list[int]:
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
        sid = int(fields[3]) if len(fields) > 3 else -1
        if fields and fields[0] == "Z":
            continue
        if (uid is not None and owner == uid) or sid == session:
            found.append(int(entry))
    return found


def child_environment(tmp: str, threads: int) -> dict[str, str]:
    """All the child gets: no secrets from this process's environment reach it."""
    n = str(max(1, threads))
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": tmp,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "PYTHONHASHSEED": "0",
        "MALLOC_ARENA_MAX": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "HF_HUB_OFFLINE": "1",
        "NO_PROXY": "*",
    }


def run_in_sandbox(job: dict[str, Any], tokens: bytes, config: CheckConfig) -> SandboxOutcome:
    """Run the child on `job`; always returns (timeouts, crashes and floods included)."""
    mode, description = resolve_mode(config)
    root = os.geteuid() == 0
    outcome = SandboxOutcome(mode=description)
    with tempfile.TemporaryDirectory(prefix="genesys-check-") as host_tmp:
        host = Path(host_tmp)
        os.chmod(host, 0o755)
        job_dir = host / "job"
        job_dir.mkdir(mode=0o755)
        uid: int | None = None
        if root and (mode == "bubblewrap" or _world_accessible(_python_roots() + [PACKAGE_DIR])):
            uid = secrets.randbelow(SANDBOX_UID_RANGE[1] - SANDBOX_UID_RANGE[0]) + SANDBOX_UID_RANGE[0]
        elif root:
            outcome.mode += " as root: the process limit is not enforced"
        if mode == "bubblewrap":
            tmp, job_path = "/tmp", "/job/job.json"
        else:
            tmp_dir = host / "tmp"
            tmp_dir.mkdir(mode=0o700)
            if uid is not None:
                os.chown(tmp_dir, uid, uid)
            tmp, job_path = str(tmp_dir), str(job_dir / "job.json")
        processes = config.max_processes if root else _user_task_count(os.getuid()) + config.max_processes
        limits = {
            "address_space": config.memory_limit_mb * 1024 * 1024,
            "cpu_seconds": config.resolved_cpu_limit(),
            "processes": processes,
            "file_size": config.max_file_mb * 1024 * 1024,
            "open_files": 256,
            "uid": uid,
            "gid": uid,
        }
        payload = {**job, "limits": limits, "tmp_dir": tmp}
        (job_dir / "job.json").write_text(json.dumps(payload))
        (job_dir / "tokens.bin").write_bytes(tokens)
        for f in job_dir.iterdir():
            f.chmod(0o644)
        read_fd, write_fd = os.pipe()
        command = [sys.executable, "-I", "-B", "-c", BOOTSTRAP, PACKAGE_PARENT, job_path, str(write_fd)]
        popen_user: dict[str, Any] = {}
        if mode == "bubblewrap":
            passwd, group = host / "passwd", host / "group"
            sandbox_user = f"sandbox:x:{uid}:{uid}::/tmp:/bin/false\n" if uid is not None else ""
            passwd.write_text("root:x:0:0::/:/bin/false\n" + sandbox_user)
            group.write_text("root:x:0:\n" + (f"sandbox:x:{uid}:\n" if uid is not None else ""))
            passwd.chmod(0o644)
            group.chmod(0o644)
            command = bubblewrap_command(str(job_dir), str(passwd), str(group), config, root) + command
        elif uid is not None:
            popen_user = {"user": uid, "group": uid, "extra_groups": []}
        err_path = host / "stderr.txt"
        start = time.monotonic()
        with open(err_path, "wb") as err:
            try:
                proc = subprocess.Popen(
                    command,
                    env=child_environment(tmp, config.threads),
                    stdin=subprocess.DEVNULL,
                    stdout=err,
                    stderr=err,
                    pass_fds=(write_fd,),
                    start_new_session=True,
                    cwd=tmp if mode != "bubblewrap" else "/",
                    **popen_user,
                )
            finally:
                os.close(write_fd)
            try:
                _collect(proc, read_fd, outcome, start + config.timeout_s)
            finally:
                os.close(read_fd)
                _kill_sandbox(proc, uid)
        outcome.returncode = proc.returncode
        outcome.seconds = time.monotonic() - start
        outcome.stderr_tail = _tail(err_path)
    return outcome


DONE_GRACE_S = 3.0  # after "done", how long the child may take to exit before it is killed


def _collect(proc: subprocess.Popen, fd: int, outcome: SandboxOutcome, deadline: float) -> None:
    """Read JSON lines until the child is done, the wall clock runs out or the channel floods."""
    os.set_blocking(fd, False)
    buffer = b""
    received = 0
    eof = False
    done = False
    while True:
        if not done and outcome.finished:
            done = True
            deadline = min(deadline, time.monotonic() + DONE_GRACE_S)
        remaining = deadline - time.monotonic()
        if remaining <= 0 and done:
            return  # it reported everything; what it left running is killed by the caller
        if remaining <= 0:
            outcome.timed_out = True
            return
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.2)) if not eof else ([], [], [])
        if ready:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                chunk = b""
            if chunk:
                received += len(chunk)
                if received > MAX_CHANNEL_BYTES:
                    outcome.flooded = True
                    return
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    _parse(line, outcome)
            else:
                eof = True
        if proc.poll() is not None:
            _drain(fd, outcome, buffer)
            return
        if eof:
            time.sleep(min(0.05, max(remaining, 0)))


def _drain(fd: int, outcome: SandboxOutcome, buffer: bytes) -> None:
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            break
        if not chunk or len(buffer) > MAX_CHANNEL_BYTES:
            break
        buffer += chunk
    for line in buffer.split(b"\n"):
        _parse(line, outcome)


def _parse(line: bytes, outcome: SandboxOutcome) -> None:
    if not line.strip():
        return
    try:
        event = json.loads(line)
    except ValueError:
        return
    if isinstance(event, dict):
        outcome.events.append(event)


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
