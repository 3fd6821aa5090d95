"""Everything the checker can be told: the reference configuration, thresholds, sandbox limits and
the import allow-list. Defaults follow the paper's reference implementation where it has one
(thresholds, 10s of training steps against a Transformer at the same shape) and keep a full check
of a seed under 20 s on two CPU cores otherwise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Modules (and their submodules) design code may import. Anything else is a forbidden import.
DEFAULT_ALLOWED_IMPORTS: tuple[str, ...] = (
    "__future__",
    "torch",
    "math",
    "cmath",
    "einops",
    "typing",
    "typing_extensions",
    "dataclasses",
    "functools",
    "itertools",
    "collections",
    "abc",
    "enum",
    "numbers",
    "operator",
    "copy",
    "warnings",
    "numpy",
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
    "time",
    "opt_einsum",
    # Light dependencies of reference-format files; the sandbox supplies equivalents of our own.
    "torchtune.modules",
    "transformers.activations",
    "transformers.utils.logging",
)

# Allowed modules' members that read or write files, run processes, reach the network or unpickle.
DEFAULT_FORBIDDEN_MEMBERS: tuple[str, ...] = (
    "torch.load",
    "torch.save",
    "torch.hub",
    "torch.multiprocessing",
    "torch.distributed",
    "torch.utils.cpp_extension",
    "torch.utils.data",
    "torch.utils.model_zoo",
    "torch.utils.tensorboard",
    "torch.ops.load_library",
    "torch.classes.load_library",
    "torch.from_file",
    "torch.package",
    "torch.jit.load",
    "torch.jit.save",
    "torch.serialization",
    "torch.cuda.memory._dump_snapshot",
    "numpy.load",
    "numpy.save",
    "numpy.savez",
    "numpy.savez_compressed",
    "numpy.savetxt",
    "numpy.loadtxt",
    "numpy.genfromtxt",
    "numpy.fromfile",
    "numpy.memmap",
    "numpy.ctypeslib",
    "numpy.lib",
    "numpy.f2py",
    "numpy.DataSource",
    "logging.FileHandler",
    "logging.config",
    "logging.handlers",
    # members that turn a string into an attribute or code
    "operator.attrgetter",
    "operator.methodcaller",
    "string.Formatter",
    "typing.get_type_hints",
    "typing.ForwardRef",
    "typing_extensions.get_type_hints",
    "dataclasses.make_dataclass",
)


def default_cache_dir() -> Path:
    base = os.environ.get("GENESYS_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "genesys-studio"
    )
    return Path(base) / "checker"


@dataclass
class CheckConfig:
    """Settings of one check. Fields marked (ref) change the GPT reference figures they are compared to."""

    # -- the small reference configuration (ref) ---------------------------------------------------
    d_model: int = 128
    n_block: int = 2
    vocab_size: int = 256  # byte-level tokens: real text without a tokenizer
    seq_len: int = 128
    batch_size: int = 4
    seed: int = 0
    threads: int = 1  # torch threads inside the sandbox

    # -- causality ---------------------------------------------------------------------------------
    causality_batch: int = 2
    causality_positions: int = 10  # positions t tested; 0, 1 and the last are always among them
    causality_atol: float = 1e-5  # relative to the largest |logit|; exact-causal designs differ by 0

    # -- training sanity run (ref) -----------------------------------------------------------------
    train_steps: int = 20
    learning_rate: float = 3e-3
    min_loss_drop: float = 0.05  # nats: mean of the last steps must be this far below the first ones
    max_loss: float = 1e4
    max_grad_norm: float = 1e4
    warmup_steps_excluded_from_timing: int = 3

    # -- comparison with the GPT seed (reference implementation's thresholds) ----------------------
    compare_with_reference: bool = True
    reference_seed: str = "gpt"  # a seed name, or the path of any design (design_io.load_design)
    time_error: float = 3.0
    time_warning: float = 1.5
    flops_error: float = 3.0
    flops_warning: float = 1.5
    memory_error: float = 4.0
    memory_warning: float = 2.0
    loss_error: float = 3.0
    loss_warning: float = 1.5
    cache_dir: str | None = None  # default: $GENESYS_CACHE_DIR/checker or ~/.cache/genesys-studio/checker

    # -- policy --------------------------------------------------------------------------------------
    unused_parameters: str = "warning"  # "warning" (the reference checker's behaviour) or "error" (rejected)
    stop_after_error: bool = True  # skip the expensive stages (training, performance) after an error
    effectiveness_with_placeholders: bool = False  # train/compare a tree with placeholder units?
    allowed_imports: tuple[str, ...] = DEFAULT_ALLOWED_IMPORTS
    forbidden_members: tuple[str, ...] = DEFAULT_FORBIDDEN_MEMBERS

    # -- sandbox ---------------------------------------------------------------------------------------
    sandbox: str = "auto"  # "auto"/"bubblewrap"; "rlimit" or a fallback only with GENESYS_UNSAFE_NO_SANDBOX=1
    timeout_s: float = 120.0  # wall clock for the whole runtime stage
    memory_limit_mb: int = 4096  # address space a design may add beyond Python and torch (RLIMIT_AS)
    cpu_time_limit_s: int | None = None  # RLIMIT_CPU; default: timeout × threads + 30
    max_processes: int = 64  # threads and processes of the sandbox user (RLIMIT_NPROC)
    max_file_mb: int = 64  # largest file the sandbox may write (RLIMIT_FSIZE)
    tmp_size_mb: int = 64  # size of the private /tmp under bubblewrap
    audit_hooks: bool = True  # block file/network/process operations from Python inside the child

    # -- training text ---------------------------------------------------------------------------------
    data_dir: str | None = None  # default: $GENESYS_DATA_DIR
    corpus: str = "corpora/tinyshakespeare/input.txt"
    text_bytes: int = 262_144

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["allowed_imports"] = list(self.allowed_imports)
        data["forbidden_members"] = list(self.forbidden_members)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("allowed_imports", "forbidden_members"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def replace(self, **changes: Any) -> CheckConfig:
        return dataclasses.replace(self, **changes)

    # -- derived -------------------------------------------------------------------------------------
    def reference_key(self) -> str:
        """Hash of the fields that change the GPT reference figures."""
        fields = (
            "d_model",
            "n_block",
            "vocab_size",
            "seq_len",
            "batch_size",
            "seed",
            "threads",
            "train_steps",
            "learning_rate",
            "warmup_steps_excluded_from_timing",
            "reference_seed",
            "corpus",
            "text_bytes",
        )
        payload = {k: getattr(self, k) for k in fields}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def resolved_cache_dir(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()

    def resolved_cpu_limit(self) -> int:
        if self.cpu_time_limit_s is not None:
            return int(self.cpu_time_limit_s)
        return int(self.timeout_s * max(1, self.threads)) + 30

    def resolved_data_dir(self) -> Path | None:
        raw = self.data_dir or os.environ.get("GENESYS_DATA_DIR")
        return Path(raw) if raw else None


REPORTED_CONFIG_FIELDS = (
    "d_model",
    "n_block",
    "vocab_size",
    "seq_len",
    "batch_size",
    "threads",
    "train_steps",
    "learning_rate",
    "sandbox",
    "timeout_s",
    "memory_limit_mb",
    "unused_parameters",
)


def summary(config: CheckConfig) -> dict[str, Any]:
    """The few settings a report repeats, so a stored report says how it was measured."""
    return {k: getattr(config, k) for k in REPORTED_CONFIG_FIELDS}
