"""The sandboxed child: the only place where design code runs.

Started by `sandbox.py` (inside bubblewrap, or with rlimits only) with a clean environment. It
lowers its own limits, gives up root if it has it, imports torch and what designs may import,
installs the audit-hook guard and only then loads the design. It talks to the parent solely by
JSON lines on an inherited pipe; a process forked from it by design code cannot use that pipe.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

from ..cpu_time import cpu_seconds_now
from ..sandbox.limits import apply_limits, drop_privileges

# How the parent starts this module: `python -I -B -c BOOTSTRAP <package parent> <job.json> <fd>`.
BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from verifier.core.checker.child import main; main(sys.argv[2:])"
)

# Imported before the guard is installed, so design imports of them need no file access.
PRELOAD = (
    "math",
    "cmath",
    "typing",
    "dataclasses",
    "functools",
    "itertools",
    "collections",
    "collections.abc",
    "abc",
    "enum",
    "numbers",
    "operator",
    "copy",
    "warnings",
    "random",
    "string",
    "re",
    "logging",
    "contextlib",
    "fractions",
    "decimal",
    "statistics",
    "heapq",
    "bisect",
    "einops",
    "numpy",
    "torch.nn.functional",
    "torch.utils.checkpoint",
    "torch.utils._pytree",
    "torchtune.modules",
    "transformers.activations",
    "transformers.utils.logging",
)


class Channel:
    """JSON lines to the parent. Only the runner's own process may write."""

    def __init__(self, fd: int):
        self.fd = fd
        self.pid = os.getpid()

    def send(self, message: dict[str, Any]) -> None:
        if os.getpid() != self.pid:
            os._exit(70)  # a copy made by fork(): it has nothing to report
        from .report import json_safe

        data = (json.dumps(json_safe(message)) + "\n").encode()
        while data:
            written = os.write(self.fd, data)
            data = data[written:]


def limit_address_space(extra_bytes: int | None) -> None:
    """Cap the address space at what the interpreter and torch already map plus `extra_bytes`, so the
    cap means the same with a CPU-only torch and with a CUDA build that maps gigabytes of kernels."""
    import resource

    if extra_bytes is None:
        return
    with open("/proc/self/status") as handle:
        size_kb = next(int(line.split()[1]) for line in handle if line.startswith("VmSize:"))
    value = size_kb * 1024 + int(extra_bytes)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(resource.RLIMIT_AS, (value, value))


def prepare_torch(threads: int) -> None:
    import importlib

    import torch

    from ..compat import install

    install(prefer_compat=True)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    torch.set_num_threads(max(1, threads))


def warm_up(calibration) -> None:
    """Run every code path of the runner once on trusted tensors before the guard is installed, so
    that what torch imports lazily is not imported under the guard, on the design's time."""
    import torch
    import torch.nn.functional as F

    from .lightweight import AdamW, FlopCounter
    from .runtime_checks import _ParameterUse

    calibration.run()
    layer = torch.nn.Linear(8, 8)
    layer.register_forward_hook(lambda module, args, kwargs, output: None, with_kwargs=True)
    opt = AdamW(layer.parameters(), lr=1e-3)
    q = torch.randn(1, 2, 4, 8, requires_grad=True)
    with (
        FlopCounter(),
        torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t),
        _ParameterUse(set()),
    ):
        y = layer(F.scaled_dot_product_attention(q, q, q, is_causal=True)).sum()
        y.backward()
    torch.nn.utils.clip_grad_norm_(layer.parameters(), 1.0)
    opt.step()
    with torch.device("meta"):
        torch.nn.Linear(8, 8)
    torch.randperm(4, generator=torch.Generator().manual_seed(0))
    calibration.run()


def main(argv: list[str]) -> None:
    job_path, fd = argv[0], int(argv[1])
    channel = Channel(fd)
    with open(job_path) as handle:
        job = json.load(handle)
    apply_limits(job["limits"])
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; the file-size limit must kill
    drop_privileges(job["limits"].get("uid"), job["limits"].get("gid"))
    sys.dont_write_bytecode = True
    os.umask(0o077)
    started = time.perf_counter()
    prepare_torch(int(job["config"].get("threads", 1)))

    import torch

    from .guard import Guard, install_guard
    from .runtime_checks import RuntimeChecks
    from .training_probe import Calibration

    with open(os.path.join(os.path.dirname(job_path), "tokens.bin"), "rb") as handle:
        tokens = torch.frombuffer(bytearray(handle.read()), dtype=torch.uint8).long()
    checks = RuntimeChecks(job, channel.send, tokens)
    cfg = checks.cfg
    calibration = Calibration(cfg.d_model, cfg.batch_size, cfg.seq_len, cfg.seed)
    warm_up(calibration)
    limit_address_space(job["limits"].get("address_space"))
    package_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if cfg.audit_hooks:
        guard = install_guard([job["tmp_dir"]], [package_dir, os.path.dirname(job_path)])
    else:
        guard = Guard([], [], on_violation=lambda record: None)  # never installed: records nothing
    channel.send({"event": "ready", "seconds": time.perf_counter() - started, "uid": os.getuid()})
    if job.get("mode") == "size":
        from .sizing_probe import tune

        tune(checks, job["size"])
    else:
        run_stages(checks, calibration, guard, channel)
    # The CPU time of this child: the parent cannot see it through bubblewrap's PID namespace (the
    # cost ledger's checker CPU; claimed by the child, so the parent bounds it).
    channel.send({"event": "figures", "figures": {"child_cpu_seconds": round(cpu_seconds_now(), 3)}})
    channel.send({"event": "done"})
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown: design objects, threads or forked copies must not hold us up


def run_stages(checks, calibration, guard, channel: Channel) -> None:
    from .mixing import check_mixing
    from .training_probe import performance, train

    cfg = checks.cfg
    stages = (
        ("load", checks.load, True),
        ("init", checks.init, True),
        ("forward", checks.forward, True),
        ("causality", checks.causality, False),
        ("mixing", lambda: check_mixing(checks), False),
        ("gradients", checks.gradients, False),
        ("train", lambda: train(checks, calibration), False),
        ("performance", lambda: performance(checks), False),
    )
    blocked = ""
    for name, run, essential in stages:
        reason = blocked
        if not reason and name in ("mixing", "train", "performance"):
            if checks.placeholders and not cfg.effectiveness_with_placeholders:
                reason = "the tree has placeholder units"
            elif cfg.stop_after_error and checks.errors:
                reason = "skipped after an earlier error"
        if reason:
            channel.send({"event": "stage", "stage": name, "status": "skipped", "reason": reason})
            continue
        channel.send({"event": "stage", "stage": name, "status": "start"})
        seen = len(guard.violations)
        start = time.perf_counter()
        try:
            passed = bool(run())
        except Exception as exc:  # design code can break the runner's own steps too
            checks.exception(exc, "forward-error", name)
            passed = False
        seconds = time.perf_counter() - start
        if len(guard.violations) > seen:
            checks.violations_after(name, guard.violations, seen)
            passed = False
        channel.send({"event": "stage", "stage": name, "status": "end", "passed": passed, "seconds": seconds})
        if not passed and essential:
            blocked = f"needs a working {name} stage"
