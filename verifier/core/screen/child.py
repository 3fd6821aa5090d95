"""Where a screened design runs: its own `python -m verifier.core verify --rung screen` child, with
a wall-clock limit.

That child is the contained `verify` (train/contained.py): a trusted parent that runs the design's
code only inside the bubblewrap sandbox, with only the design's folder writable, and fails closed
where the sandbox cannot start. A crash, hang or out-of-memory kill of one design ends that child
only; the parent reads whatever report the child wrote.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ChildResult:
    returncode: int | None  # None: killed at the wall limit
    timed_out: bool
    wall_s: float
    cpu_s: float  # user + system CPU seconds of the child (and its children)


def run_child(argv: list[str], log_path: Path, timeout_s: float, env: dict[str, str] | None = None) -> ChildResult:
    """Run `python -m verifier.core <argv>` in a new process group; kill the group at the limit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "verifier.core", *argv], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env if env is not None else os.environ.copy(),
                                start_new_session=True)
        timed_out = False
        try:
            returncode: int | None = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out, returncode = True, None
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ChildResult(returncode, timed_out, round(time.perf_counter() - start, 3), round(cpu, 3))
