"""The verification report: one JSON document per (design, rung) verification.

It records what was trained (design hash, shape, config, data hash, seed), how it went (loss
curve, throughput, MFU, peak memory, wall time), what it scored (per-task evaluation, validation
perplexity, fitness) and, if it failed, why (a category from the runtime monitor's list and a
message). The evolution stores `to_dict()` as it is.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPORT_FORMAT = "genesys.verification-report/1"
REPORT_NAME = "report.json"
MAX_CURVE_POINTS = 1000


@dataclass
class VerificationReport:
    design_name: str
    design_hash: str
    rung: str
    status: str = "running"  # "done" | "failed" | "interrupted"
    config: dict[str, Any] = field(default_factory=dict)
    shape: dict[str, Any] = field(default_factory=dict)  # d_model, n_block, parameters
    data: dict[str, Any] = field(default_factory=dict)  # hash, corpus, tokenizer, tokens, epochs
    seed: int = 42
    device: str = ""
    loss_curve: list[dict[str, float]] = field(default_factory=list)
    final_train_loss: float | None = None
    val_loss: float | None = None
    val_perplexity: float | None = None
    # Bits per byte on the held-out text (tokenizer-independent): val_loss / ln 2 / bytes per token.
    val_bpb: float | None = None
    val_bytes_per_token: float | None = None  # UTF-8 bytes per token of the held-out text scored
    # Raw results of rungs that are not (only) lm-eval tasks, e.g. the screen's probes:
    # {component: {"value": float, "stderr": float | None, "n": int, ...}}. The parent recomputes the
    # rung's score from these; it never trusts `fitness`.
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens_per_s: float | None = None
    mfu: float | None = None
    flops_per_token: float | None = None
    peak_memory_bytes: int | None = None
    peak_memory_kind: str = ""
    wall_time_s: dict[str, float] = field(default_factory=dict)  # per phase and "total"
    # CPU time of the run (the process that trained and evaluated, its threads, the children it
    # waited for). Behind bubblewrap's PID namespace it would not reach the parent's rusage, so the
    # run says it; the parent bounds the claim by wall time x cores (evolution.core.cpu_time).
    cpu_seconds: float | None = None
    eval: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_scores: dict[str, float] = field(default_factory=dict)  # accuracy above chance
    fitness: float | None = None
    failure: dict[str, Any] | None = None
    weights: str | None = None  # file name of the safetensors weights, relative to the report
    warnings: list[str] = field(default_factory=list)
    sandbox: str = ""  # how the run was isolated ("bubblewrap", or "rlimit-only (UNSAFE ...)"), set by the parent
    versions: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    format: str = REPORT_FORMAT

    @property
    def ok(self) -> bool:
        return self.failure is None and self.status == "done"

    @property
    def error(self) -> str:
        """One line for lists and logs: "category: message", or "" when the run succeeded."""
        if not self.failure:
            return ""
        return f"{self.failure['category']}: {str(self.failure['message']).splitlines()[0]}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["loss_curve"] = downsample(self.loss_curve, MAX_CURVE_POINTS)
        data["error"] = self.error
        return json_safe(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def write(self, out_dir: Path) -> Path:
        path = Path(out_dir) / REPORT_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerificationReport:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def read(cls, path: Path) -> VerificationReport:
        path = Path(path)
        return cls.from_dict(json.loads((path / REPORT_NAME if path.is_dir() else path).read_text()))


def downsample(curve: list[dict[str, float]], max_points: int) -> list[dict[str, float]]:
    """At most `max_points` points: consecutive windows averaged, the last point kept exactly."""
    if len(curve) <= max_points:
        return list(curve)
    window = -(-len(curve) // max_points)
    out = []
    for start in range(0, len(curve), window):
        chunk = curve[start:start + window]
        point = {k: sum(p[k] for p in chunk) / len(chunk) for k in chunk[0] if k not in ("step", "tokens")}
        point["step"] = chunk[-1]["step"]
        point["tokens"] = chunk[-1]["tokens"]
        out.append(point)
    return out


def json_safe(value: Any) -> Any:
    """Replace NaN/Inf by None (JSON has no such numbers) and tuples by lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
