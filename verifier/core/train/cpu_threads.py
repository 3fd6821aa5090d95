"""How a CPU training process uses its threads, and the two paths the CPU benchmark compares.

On a shared machine (the evolution's own workers, other jobs) the cores a training run would use
are often busy. OpenMP's default is to spin a while at every barrier, waiting for the other
threads: when one of them is descheduled, the others burn their time slice spinning, and a step
costs several times the CPU it needs (measured on the 2-core box: 3.3 CPU s per micro step with two
spinning threads, 1.3 s with one). `OMP_WAIT_POLICY=PASSIVE` makes waiting threads sleep instead;
the work is split the same way, so the result is the same. It is read once, when the OpenMP
runtime starts (at `import torch`), so it has to be in the environment of the process that trains:
`TRAINING_ENV` is what `verify`'s sandboxed child gets unless the operator set it otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

# Environment variables that decide how the training process's threads run; all of them pass
# through to the sandboxed child (train/contained.py).
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
              "KMP_BLOCKTIME", "OMP_PROC_BIND", "OMP_PLACES")
# The defaults for a training process, where the operator has not set them.
TRAINING_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def training_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The thread settings of a training child: the operator's (THREAD_ENV in `environ`), else ours."""
    environ = dict(os.environ if environ is None else environ)
    env = {k: environ[k] for k in THREAD_ENV if k in environ}
    for key, value in TRAINING_ENV.items():
        env.setdefault(key, value)
    return env


@dataclass(frozen=True)
class CpuPath:
    """One way of training on a CPU, as the benchmark runs it in a fresh process."""

    name: str
    fused_adamw: bool
    env: dict[str, str] = field(default_factory=dict)  # set before the process starts
    threads: int | None = None  # torch.set_num_threads (None: torch's default, the cores it sees)


PATHS = {
    # The trainer before issue #17: for-loop AdamW, OpenMP's default spinning threads.
    "reference": CpuPath("reference", fused_adamw=False),
    # The default now: fused AdamW, sleeping OpenMP threads.
    "fast": CpuPath("fast", fused_adamw=True, env=dict(TRAINING_ENV)),
    # For comparison: one thread (no barriers at all; slower on an idle machine).
    "one_thread": CpuPath("one_thread", fused_adamw=True, env={**TRAINING_ENV, "OMP_NUM_THREADS": "1"}, threads=1),
}


def apply_threads(path: CpuPath) -> None:
    """The in-process part of a path (the environment part must be set before the process starts)."""
    if path.threads:
        import torch

        torch.set_num_threads(path.threads)
