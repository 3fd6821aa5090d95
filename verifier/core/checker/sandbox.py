"""Run the checker's child in a sandbox and collect what it reports, whatever the child does.

bubblewrap where it works: new PID, network, IPC and UTS namespaces; a read-only view of /usr,
the Python installation and this package only; a private, size-limited /tmp; no environment but
the few variables set here (the mounts and the mode are shared with every sandboxed child:
verifier/core/sandbox). Without bubblewrap nothing runs (SandboxUnavailable) unless the operator
set GENESYS_UNSAFE_NO_SANDBOX=1: then rlimits only, reported as such. In both modes the child
runs with rlimits (address space, CPU time, processes, file size, open files, no core dumps), as a
fresh unprivileged uid when the parent is root, in its own session; the parent enforces a wall
clock and kills everything the check started. See docs/SANDBOX.md for what this does not cover.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..sandbox.bubblewrap import PACKAGE_PARENT
from ..sandbox.bubblewrap import bubblewrap_command as shared_bubblewrap_command
from ..sandbox.mode import SandboxUnavailable, bubblewrap_problem
from ..sandbox.mode import resolve_mode as shared_resolve_mode
from ..sandbox.process import base_environment, identity_files, kill_everything, sandbox_uid
from .child import BOOTSTRAP
from .config import CheckConfig

MAX_CHANNEL_BYTES = 16 * 1024 * 1024
__all__ = ["SandboxOutcome", "SandboxUnavailable", "bubblewrap_problem", "child_environment", "run_in_sandbox"]


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


# ---- choosing the mode (shared with every other sandboxed child: verifier/core/sandbox) -----------
def resolve_mode(config: CheckConfig) -> tuple[str, str]:
    """("bubblewrap" | "rlimit", the description that goes into the report); fails closed."""
    return shared_resolve_mode(config.sandbox)


def bubblewrap_command(job_dir: str, passwd: str, group: str, config: CheckConfig, root: bool) -> list[str]:
    binds = [("--ro-bind", passwd, "/etc/passwd"), ("--ro-bind", group, "/etc/group"), ("--ro-bind", job_dir, "/job")]
    return shared_bubblewrap_command(binds, root=root, tmp_size_mb=config.tmp_size_mb)


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


def child_environment(tmp: str, threads: int) -> dict[str, str]:
    """All the child gets: no secrets from this process's environment reach it; no GPU."""
    return {**base_environment(tmp, tmp, threads), "PYTHONHASHSEED": "0", "CUDA_VISIBLE_DEVICES": ""}


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
        uid, note = sandbox_uid(mode)
        outcome.mode += note
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
            passwd, group = identity_files(host, uid)
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
                kill_everything(proc, uid)
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
