"""`verify` contained: this (trusted) process reads the design, prepares the run folder and starts
the sandboxed child that runs the design's code; then it reads the child's report out of the run
folder, checks that it is a report of this design at this rung, and stamps it with the sandbox mode.

Two children, both in the sandbox: first the corpus is tokenised with the shared cache writable (no
design involved), then the design trains and is evaluated with that cache read-only and only the run
folder writable. Where the sandbox cannot start, no design code runs: the report fails with
`sandbox_unavailable` (or the operator set GENESYS_UNSAFE_NO_SANDBOX=1 and the report says so).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..gau.tree import GAUTree
from ..sandbox import SandboxSpec, SandboxUnavailable, run_module, start_module
from ..sandbox import files as safe
from ..sandbox.bubblewrap import gpu_binds
from ..sandbox.process import open_up
from .cpu_threads import THREAD_ENV, training_env
from .data import default_cache_dir
from .monitor import Failure
from .report import REPORT_NAME, VerificationReport

CHILD_FLAG = "--sandboxed-child"
DESIGN_FILE = "design.json"
PRIVATE = ".sandbox"  # the child's home and caches, inside the run folder
PASSED_ENV = (*THREAD_ENV, "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "PYTORCH_CUDA_ALLOC_CONF",
              "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
PREPARE_TIMEOUT_S = 4 * 3600.0
LOCK_NAME = ".prepare.lock"  # in the shared token cache


def child_args(args: argparse.Namespace, design: Path, out: Path) -> list[str]:
    """The `verify` command line of the sandboxed child (the user's options, paths made absolute)."""
    cmd = ["verify", str(design), "--rung", args.rung, "--out", str(out), CHILD_FLAG, "--device", args.device,
           "--seed", str(args.seed)]
    if args.data_dir is not None:
        cmd += ["--data-dir", str(Path(args.data_dir).resolve())]
    if args.train_tokens:
        cmd += ["--train-tokens", str(args.train_tokens)]
    if args.tasks:
        cmd += ["--tasks", args.tasks]
    if args.eval_limit is not None:
        cmd += ["--eval-limit", str(args.eval_limit)]
    if args.no_eval:
        cmd.append("--no-eval")
    if args.compile is not None:
        cmd.append("--compile" if args.compile else "--no-compile")
    if args.quiet:
        cmd.append("--quiet")
    for item in args.set:
        cmd += ["--set", item]
    return cmd


def child_env(out: Path) -> dict[str, str]:
    private = out / PRIVATE
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update(training_env())  # thread settings: the operator's, else sleeping OpenMP threads (cpu_threads.py)
    env.update(HOME=str(private / "home"), XDG_CACHE_HOME=str(private / "cache"), HF_HOME=str(private / "hf"),
               TORCHINDUCTOR_CACHE_DIR=str(private / "inductor"), TRITON_CACHE_DIR=str(private / "triton"))
    return env


def run_contained(args: argparse.Namespace, tree: GAUTree, overrides: dict[str, Any]) -> int:
    """The parent side of `verify`; returns the exit status (0 done, 1 failed, 3 interrupted)."""
    from .cli import summary

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    design = out / DESIGN_FILE
    safe.write_text(design, tree.to_json())
    (out / REPORT_NAME).unlink(missing_ok=True)  # only this run's report counts
    data_dir = Path(args.data_dir).resolve() if args.data_dir else None
    shared_cache = Path(overrides.get("cache_dir") or default_cache_dir()).resolve()
    base = child_args(args, design, out)
    read_only = [p for p in (data_dir,) if p is not None]
    mode = ""
    try:
        with preparing(shared_cache):
            if not probably_cached(shared_cache, data_dir, overrides):
                prepare = run_module([*base, "--prepare-data", "--set", f"cache_dir={shared_cache}"],
                                     SandboxSpec(read_only=[*read_only, design], writable=[shared_cache],
                                                 env={"HOME": "/tmp"}),
                                     timeout_s=PREPARE_TIMEOUT_S)
                if prepare.returncode != 0:  # the design's child then tokenises privately: slower, not wrong
                    print(f"note: tokenising in the sandbox ended with status {prepare.returncode}: "
                          f"{prepare.stderr[-500:]}", file=sys.stderr)
            open_up(shared_cache / "tokens")  # the design's child reads it as another uid
        design_cmd = [*base, "--set", f"cache_dir={out / PRIVATE / 'cache'}",
                      "--set", f"shared_cache_dir={shared_cache}"]
        if args.progress_jsonl:
            design_cmd += ["--progress-jsonl", "-"]
        spec = SandboxSpec(read_only=[*read_only, shared_cache], writable=[out], env=child_env(out),
                           gpu=args.device != "cpu" and bool(gpu_binds()), cwd=str(out))
        rc, mode = _run_child(design_cmd, spec, args.progress_jsonl)
    except SandboxUnavailable as exc:
        print(f"error: no sandbox: {exc}", file=sys.stderr)
        report = _failed(tree, args.rung, "sandbox_unavailable", str(exc))
        rc = 1
    else:
        report = checked_report(out, tree, args.rung, rc)
    report.sandbox = mode
    safe.write_text(out / REPORT_NAME, report.to_json())
    human = sys.stderr if args.progress_jsonl == "-" else sys.stdout
    print(summary(report.to_dict(), out) + (f"\n  sandbox: {mode}" if mode else ""), file=human)
    return {"done": 0, "interrupted": 3}.get(report.status, 1)


@contextmanager
def preparing(shared_cache: Path) -> Iterator[None]:
    """Hold the shared cache's tokenising lock (`.prepare.lock` in the cache, made with it).

    The tokenising child gets the whole cache handed to its own fresh uid for the run; a second one
    started meanwhile takes it over, and the first loses write access mid-way (PermissionError, both
    then tokenise privately). So verify runs that share a cache (the loop's workers) tokenise one at
    a time, and the second finds the first's corpus. Only the tokenising child (no design code) may
    write in the cache; where the lock cannot be made the run goes on without it, as before."""
    shared_cache.mkdir(parents=True, exist_ok=True)
    try:
        fd: int | None = os.open(shared_cache / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                                 0o600)
    except OSError:
        fd = None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def probably_cached(shared_cache: Path, data_dir: Path | None, overrides: dict[str, Any]) -> bool:
    """Is the run's corpus already tokenised in the shared cache (same data settings)? Then the
    tokenising child is skipped. A wrong guess costs time only: the design's child looks the cache
    up by its exact key (corpus and tokenizer fingerprints) and tokenises privately on a miss."""
    from .verify import VerifyConfig, _split_overrides, data_config

    _, cfg_o, data_o = _split_overrides(overrides)
    try:
        data_cfg, problem = data_config(VerifyConfig(**cfg_o), data_o, data_dir)
    except (OSError, ValueError, TypeError):
        return False
    wanted = json.loads(json.dumps(asdict(data_cfg)))
    for meta in sorted(shared_cache.glob("tokens/*/meta.json")):
        raw = safe.read_bytes(meta, 1 << 20)
        try:
            if raw is not None and json.loads(raw).get("config") == wanted:
                return not problem
        except (ValueError, AttributeError):
            continue
    return False


def _run_child(cmd: list[str], spec: SandboxSpec, progress: str | None) -> tuple[int | None, str]:
    """Start the design's child, pass Ctrl-C and SIGTERM on to it (it checkpoints), wait for it."""
    progress_fd = None
    if progress and progress != "-":
        progress_fd = safe.open_append(progress)
    stdout = progress_fd if progress_fd is not None else sys.stdout.fileno()
    previous: dict[signal.Signals, Any] = {}
    try:
        with start_module(cmd, spec, stdout=stdout, stderr=sys.stderr.fileno()) as child:
            def forward(signum: int, frame: Any) -> None:
                child.signal(signum)

            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, forward)
            child.wait()
            return child.returncode, child.mode
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if progress_fd is not None:
            os.close(progress_fd)


def checked_report(out: Path, tree: GAUTree, rung: str, returncode: int | None) -> VerificationReport:
    """The child's report if it is one of this design at this rung; else a failed report saying why."""
    raw = safe.read_bytes(out / REPORT_NAME)
    if raw is None:
        if returncode is not None and returncode < 0:
            return _failed(tree, rung, "killed", f"the sandboxed run was killed by signal {-returncode}")
        return _failed(tree, rung, "report_invalid",
                       f"the sandboxed run exited with status {returncode} and wrote no report")
    try:
        data = json.loads(raw)
        report = VerificationReport.from_dict(data)
    except (ValueError, TypeError) as exc:
        return _failed(tree, rung, "report_invalid", f"the report does not parse: {exc}")
    problems = []
    if report.design_hash != tree.content_hash():
        problems.append(f"it names design {report.design_hash!r}, not {tree.content_hash()!r}")
    if report.rung != rung:
        problems.append(f"it names rung {report.rung!r}, not {rung!r}")
    if report.status not in ("done", "failed", "interrupted"):
        problems.append(f"its status is {report.status!r}")
    if report.status == "done" and returncode != 0:
        problems.append(f"it says done but the run exited with status {returncode}")
    if problems:
        return _failed(tree, rung, "report_invalid", "the report does not match the run: " + "; ".join(problems))
    return report


def _failed(tree: GAUTree, rung: str, category: str, message: str) -> VerificationReport:
    return VerificationReport(design_name=tree.name, design_hash=tree.content_hash(), rung=rung, status="failed",
                              failure=Failure(category, message).to_dict())
