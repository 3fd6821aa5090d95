"""The GPT seed's figures at the checker's reference configuration, measured in the same sandbox and
cached per configuration and machine, so that repeated checks do not pay for them again.

Only figures that do not drift with the machine's load are cached: FLOPs, memory, the final loss
and the step time in units of the calibration workload (see `training_probe`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from .config import CheckConfig

CACHED_FIGURES = (
    "time_units",
    "flops_per_step",
    "memory_bytes",
    "loss_last",
    "step_seconds",
    "params_non_embedding",
)
MEASUREMENT_VERSION = 1  # bump when the runtime stages measure differently: old caches are then ignored
_memory: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


class ReferenceError(RuntimeError):
    """The reference design itself did not pass: the comparison would be meaningless."""


def machine_fingerprint() -> str:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), ""
            )
    except OSError:
        pass
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "?"
    parts = [
        platform.node(),
        platform.machine(),
        cpu,
        str(os.cpu_count()),
        torch_version,
        platform.python_version(),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def cache_path(config: CheckConfig, sandbox: str, text_source: str = "") -> Path:
    """One file per reference configuration, machine, sandbox mode, training text, version of the
    reference seed's code and version of the measurement."""
    from ..design_io import load_design

    mode = sandbox.split(" ")[0]
    seed_hash = load_design(config.reference_seed).content_hash()[:8]
    text = hashlib.sha256(text_source.encode()).hexdigest()[:6]
    key = f"{config.reference_key()}-{machine_fingerprint()}-{mode}-{text}-{seed_hash}-m{MEASUREMENT_VERSION}"
    return config.resolved_cache_dir() / f"reference-{key}.json"


def reference_figures(config: CheckConfig, sandbox: str, text_source: str = "") -> dict[str, Any]:
    """The reference seed's figures (measured once, then read from memory or the cache file)."""
    path = cache_path(config, sandbox, text_source)
    key = str(path)
    with _lock:
        if key in _memory:
            return _memory[key]
        if path.is_file():
            try:
                figures = json.loads(path.read_text())["figures"]
                _memory[key] = figures
                return figures
            except (ValueError, KeyError, OSError):
                pass
        figures = _measure(config)
        _memory[key] = figures
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"config": config.to_dict(), "figures": figures}, indent=1))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache directory only costs a re-measurement next time
        return figures


def _measure(config: CheckConfig) -> dict[str, Any]:
    from ..design_io import load_design
    from .pipeline import run_checks

    tree = load_design(config.reference_seed)
    report = run_checks(tree, config.replace(compare_with_reference=False), stages=("runtime",))
    if not report.passed:
        problems = "; ".join(f"{f.category}: {f.message}" for f in report.errors)
        raise ReferenceError(f"the reference seed {config.reference_seed!r} fails the checker: {problems}")
    return {k: report.figures[k] for k in CACHED_FIGURES if k in report.figures}


def clear_memory_cache() -> None:
    with _lock:
        _memory.clear()
