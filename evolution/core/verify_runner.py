"""Run one verification as a child process and follow it.

Generated code never runs inside a worker process: the worker starts
`python -m verifier.core verify` in its own process group with a clean environment (no API keys).
That command runs the design only inside the sandbox (verifier/core/train/contained.py) and fails
with `sandbox_unavailable` where there is none. The worker tails its JSON-lines progress file,
enforces a wall-clock limit, and turns every way the child can end — report written, crash, kill,
time-out — into an outcome; whatever goes wrong in the worker while it follows, the child is
killed first. The run folder is the sandbox's writable folder: its files are read without
following links. The child resumes from its checkpoints when started again on the same output
folder, which is how a restarted worker picks up an interrupted verification.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.core.train.cpu_threads import THREAD_ENV

# Environment variables a verification may see; everything else (API keys, tokens) stays behind.
PASSED_ENV = (
    "PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "GENESYS_DATA_DIR", "GENESYS_CACHE_DIR",
    "CUDA_VISIBLE_DEVICES", "HF_HOME", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
    "GENESYS_UNSAFE_NO_SANDBOX",  # the operator's switch (docs/SANDBOX.md)
    *THREAD_ENV,  # how the training child's threads run (verifier.core.train.cpu_threads)
)


MAX_PROGRESS_CHUNK = 16 * 1024 * 1024


@dataclass
class VerifyOutcome:
    status: str  # done | failed | interrupted
    report: dict[str, Any] | None
    failure: dict[str, str] | None
    returncode: int | None
    wall_s: float
    stderr_tail: str = ""
    progress_events: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to kill it when the worker process dies, so a killed
    worker never leaves an orphan verification writing into the folder its retry will use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the reaper's retry may overlap an orphan, which resumes the same checkpoint


def child_env(overrides: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in PASSED_ENV}
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides or {})
    return env


class _Tail:
    """Reads complete JSON lines appended to a file since the last call."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.count = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return []  # missing, or a link the sandboxed child planted
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return []
            fh.seek(self.offset)
            chunk = fh.read(MAX_PROGRESS_CHUNK)
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        events = []
        for line in chunk[: end + 1].splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn or foreign line: progress is advisory, the report is what counts
        self.count += len(events)
        return events


def run_verification(
    design_json: Path,
    rung: str,
    out_dir: Path,
    *,
    data_dir: Path | None = None,
    timeout_s: float = 3600.0,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    poll_s: float = 0.5,
) -> VerifyOutcome:
    out_dir.mkdir(parents=True, exist_ok=True)
    progress_path = out_dir / "progress.jsonl"
    report_path = out_dir / "report.json"
    report_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "verifier.core", "verify", str(design_json), "--rung", rung,
           "--out", str(out_dir), "--progress-jsonl", str(progress_path), "--quiet", *(extra_args or [])]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    overrides = dict(env or {})
    overrides.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    stderr_path = out_dir / "stderr.log"
    expected = _expected(design_json, rung)  # before the child can touch anything
    tail = _Tail(progress_path)
    tail.offset = progress_path.stat().st_size if progress_path.exists() else 0
    start = time.monotonic()
    stderr_fd = _open_log(stderr_path)
    try:
        child = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=stderr_fd, env=child_env(overrides), start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    finally:
        os.close(stderr_fd)
    stopped_by: str | None = None
    try:
        while child.poll() is None:
            for event in tail.read():
                if on_progress is not None:
                    on_progress(event)
            if time.monotonic() - start > timeout_s:
                stopped_by = "timeout"
            elif should_stop is not None and should_stop():
                stopped_by = "stopped"
            if stopped_by:
                _kill_group(child)
                break
            time.sleep(poll_s)
    except BaseException:
        _kill_group(child, grace_s=5.0)  # never leave a child training in a folder a retry will use
        raise
    child.wait()
    for event in tail.read():
        if on_progress is not None:
            on_progress(event)
    wall = time.monotonic() - start
    stderr_tail = _tail_text(stderr_path)
    report = _read_json(report_path)
    code = child.returncode
    failure: dict[str, str] | None
    if stopped_by == "timeout":
        failure = {"category": "timeout", "message": f"verification exceeded {timeout_s:.0f} s and was killed"}
        return VerifyOutcome("failed", report, failure, code, wall, stderr_tail, tail.count)
    if stopped_by == "stopped":
        return VerifyOutcome("interrupted", report, None, code, wall, stderr_tail, tail.count)
    problem = report_problem(report, *expected) if report is not None and expected else None
    if problem:
        failure = {"category": "report_invalid", "message": problem}
        return VerifyOutcome("failed", None, failure, code, wall, stderr_tail, tail.count)
    if report is not None and code in (0, 1):
        failure = report.get("failure") if report.get("status") != "done" else None
        status = "done" if code == 0 and report.get("status") == "done" else "failed"
        if status == "failed" and not failure:
            failure = {"category": "forward-error", "message": str(report.get("error") or "verification failed")}
        return VerifyOutcome(status, report, failure, code, wall, stderr_tail, tail.count)
    if code == 3:
        return VerifyOutcome("interrupted", report, None, code, wall, stderr_tail, tail.count)
    if code is not None and code < 0:
        message = f"killed by signal {-code}"
        return VerifyOutcome("failed", report, {"category": "killed", "message": message}, code, wall,
                             stderr_tail, tail.count)
    message = f"verifier exited with status {code} and no report: {stderr_tail[-800:]}"
    return VerifyOutcome("failed", report, {"category": "crash", "message": message}, code, wall,
                         stderr_tail, tail.count)


def _kill_group(child: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGINT first (the trainer saves a checkpoint and exits), then SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _expected(design_json: Path, rung: str) -> tuple[str, str] | None:
    """(design hash, rung name) a report of this run must name; None when the design or the rung is
    itself broken (the verify command's report, or its absence, says so)."""
    from verifier.core.gau.tree import GAUTree, TreeError
    from verifier.core.train.ladder import get_rung

    try:
        return GAUTree.from_json(design_json.read_text()).content_hash(), get_rung(rung).name
    except (OSError, ValueError, KeyError, TreeError):
        return None


def report_problem(report: dict[str, Any], expected_hash: str, expected_rung: str) -> str | None:
    """Why `report` is not this design's report at this rung (None when it is). The verify command
    checks the same; this side checks again because it is the one that stores the result."""
    from verifier.core.train.report import VerificationReport

    try:
        parsed = VerificationReport.from_dict(report)
    except TypeError as exc:
        return f"the report does not parse: {exc}"
    if parsed.design_hash != expected_hash:
        return f"the report names design {parsed.design_hash!r}, not {expected_hash!r}"
    if parsed.rung != expected_rung:
        return f"the report names rung {parsed.rung!r}, not {expected_rung!r}"
    return None


def _open_log(path: Path) -> int:
    """Append to the child's log; a link planted in the run folder is replaced, not followed."""
    try:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError:
        path.unlink(missing_ok=True)
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)


def _read_regular(path: Path, limit: int) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        size = os.fstat(fd).st_size
        fh.seek(max(0, size + limit) if limit < 0 else 0)
        return fh.read(abs(limit))


def _read_json(path: Path) -> dict[str, Any] | None:
    raw = _read_regular(path, 64 * 1024 * 1024)
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _tail_text(path: Path, limit: int = 4000) -> str:
    data = _read_regular(path, -limit)
    return data.decode(errors="replace") if data is not None else ""
