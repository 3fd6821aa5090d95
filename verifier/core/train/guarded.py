"""The audit hook in the sandboxed `verify` child: the checker's guard (checker/guard.py), inside
bubblewrap, as a second layer.

`install(...)` runs after everything trusted is imported and before the design's code is loaded:
from then on Python code in this process cannot start processes, open sockets, or open files
outside the run folder (writable; temporary files go to its .sandbox/tmp) and the data directory,
the shared token cache, the package and the interpreter (readable). Modules the guard refuses to import
for the first time (subprocess, socket, multiprocessing, ...) are imported here beforehand, since
lm-eval, datasets and transformers import them lazily; using them is still refused.

A refused attempt made with the design's code on the stack fails the run (`sandbox-violation`),
even when the design swallows the exception; one made by trusted code alone (a library probing
something) is a warning. lm-eval's bootstrap stderrs run in this process (DISABLE_MULTIPROC: no
fork). On a CUDA host Triton and inductor start compilers: those programs may be started (untested
here: no GPU in CI).
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..checker.guard import Guard, install_guard
from .contained import PRIVATE
from .monitor import Failure
from .report import VerificationReport

VIOLATION = "sandbox-violation"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # verifier/core
# Set before anything reads them: lm-eval's stderrs without a process pool, inductor compiles in-process.
CHILD_ENV = {"DISABLE_MULTIPROC": "1", "TORCHINDUCTOR_COMPILE_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
# Programs Triton and torch.compile start on a CUDA host (never on CPU).
CUDA_PROGRAMS = ("gcc", "cc", "g++", "c++", "ld", "ptxas", "nvcc", "cuobjdump", "nvdisasm", "ldconfig")
# Import-refused modules that libraries import lazily: imported here, before the guard.
BLOCKED_BUT_NEEDED = (
    "subprocess", "socket", "ctypes", "ctypes.util", "ctypes.wintypes", "multiprocessing", "multiprocessing.pool",
    "multiprocessing.synchronize", "multiprocessing.queues", "multiprocessing.connection",
    "multiprocessing.popen_fork", "multiprocessing.resource_tracker", "multiprocessing.shared_memory",
    "http.client", "urllib.request", "requests", "sqlite3", "asyncio.subprocess",
)
TRUSTED = (
    "numpy", "torch", "torch.optim", "torch._dynamo", "torch._inductor", "safetensors.torch", "transformers", "tokenizers", "transformers.modeling_outputs",
    "verifier.core.train.autotune", "verifier.core.train.checkpoint", "verifier.core.train.data",
    "verifier.core.train.trainer", "verifier.core.train.throughput", "verifier.core.compat",
    "datasets", "fsspec", "torch.utils.collect_env",  # datasets also reads the corpus on a cache miss
)
EVALUATION = (
    "lm_eval", "lm_eval.evaluator", "lm_eval.api.metrics", "lm_eval.models.huggingface",
    "lm_eval.tasks", "verifier.core.train.evaluation", "verifier.core.train.scoring",
    "verifier.core.train.likelihood",
)
SCREEN = ("verifier.core.probes", "verifier.core.screen.phase")
MAX_WARNINGS = 5


def preload(*, evaluate: bool, screen: bool) -> list[str]:
    """Import what the run's phases need; returns the modules that are not installed (the run then
    reports them as it would without the guard)."""
    missing = []
    names = BLOCKED_BUT_NEEDED + TRUSTED + (EVALUATION if evaluate else ()) + (SCREEN if screen else ())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if evaluate and "transformers" not in missing:
        from transformers import AutoTokenizer, PreTrainedTokenizerFast  # noqa: F401 - lazy attributes
    if evaluate and "lm_eval.evaluator" not in missing:
        _no_programs_in_lm_eval()
    return missing


def _no_programs_in_lm_eval() -> None:
    """lm-eval notes the git commit (`git describe`) and the environment (torch's collect_env runs
    pip, nvidia-smi, ...) in its results, which we do not use: in the sandbox it starts nothing."""
    import lm_eval.evaluator
    from torch.utils import collect_env

    lm_eval.evaluator.get_git_commit_hash = lambda: None
    collect_env.get_pretty_env_info = lambda: "not collected in the sandbox"


def install(out_dir: Path, data_dir: Path | None, shared_cache: str | None, *, device: str, evaluate: bool,
            screen: bool) -> Guard:
    """Preload, then install the guard in this process for good (see the module's docstring)."""
    for key, value in CHILD_ENV.items():
        os.environ.setdefault(key, value)  # os.putenv is refused once the guard is in
    preload(evaluate=evaluate, screen=screen)
    import torch

    cuda = device != "cpu" and torch.cuda.is_available()
    out = Path(out_dir).resolve()
    # Temporary files go into the run folder too: /tmp may hold more than this run's (the sandbox's
    # binds, or the host's /tmp without bubblewrap), so it is not writable under the guard.
    tmp = out / PRIVATE / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = tempfile.tempdir = str(tmp)
    writable = [str(out)]
    readable = [str(PACKAGE_DIR), str(PACKAGE_DIR.parent / "__init__.py")]
    readable += [str(Path(p).resolve()) for p in (data_dir, shared_cache) if p]
    programs = (*CUDA_PROGRAMS, os.path.basename(sys.executable)) if cuda else ()
    # A resumed run unpickles its own checkpoint (torch.load); accelerate (under lm-eval's HFLM) and
    # our evaluation set and restore environment variables. Globals unpickled or variables set can
    # still start no process, open no socket and reach no file the guard refuses.
    events = ("pickle.find_class", "os.putenv", "os.unsetenv")

    def report(record: dict) -> None:
        where = " in the design's code" if record.get("frames") else ""
        stack = [f"{f.filename}:{f.lineno}" for f in traceback.extract_stack()[:-1] if "checker/guard.py" not in f.filename]
        print(f"sandbox: refused {record['reason']}{where} (at {' < '.join(reversed(stack[-4:]))})",
              file=sys.stderr, flush=True)

    return install_guard(writable, readable, on_violation=report, allowed_programs=programs, allowed_events=events)


def judge(violations: list[dict]) -> tuple[dict[str, Any] | None, list[str]]:
    """(the failure, the warnings) that a run's refused attempts call for."""
    design = [v for v in violations if v.get("frames")]
    failure = None
    if design:
        lines = ", ".join(f"line {frame[0]} ({frame[1]})" for frame in design[0]["frames"][-3:])
        failure = Failure(VIOLATION, f"the design's code tried {design[0]['reason']} at {lines}; the audit hook "
                                     f"refused it ({len(design)} refused attempt(s) in all)").to_dict()
    reasons = list(dict.fromkeys(v["reason"] for v in violations if not v.get("frames")))
    warnings = [f"sandbox: the audit hook refused {reason} (trusted code, no design code on the stack)"
                for reason in reasons[:MAX_WARNINGS]]
    if len(reasons) > MAX_WARNINGS:
        warnings.append(f"sandbox: {len(reasons) - MAX_WARNINGS} more refused attempts by trusted code")
    return failure, warnings


def settle(report: VerificationReport, guard: Guard, out_dir: Path) -> VerificationReport:
    """Put the guard's verdict into the report (and report.json) once the run has ended."""
    if not guard.violations:
        return report
    failure, warnings = judge(guard.violations)
    report.warnings.extend(warnings)
    if failure is not None:
        report.failure, report.status, report.fitness = failure, "failed", None
    report.write(out_dir)
    return report


def progress_through(sink: Callable[[dict], None] | None, guard: Guard) -> Callable[[dict], None] | None:
    """The progress sink, with the final "done" event telling the guard's verdict too."""
    if sink is None:
        return None

    def emit(event: dict) -> None:
        if event.get("event") == "done" and guard.violations:
            failure, _ = judge(guard.violations)
            if failure is not None:
                event = {**event, "status": "failed", "failure": failure, "fitness": None}
        sink(event)

    return emit
