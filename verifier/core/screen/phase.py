"""The screen's own phase of a verification (after the short language-model run): train the
probes, then put every raw number into the report's components and score them.

`verify_design` calls `screen_phase` for a rung of kind "screen"; the LM part (data, size, train,
validate, evaluate) is the ordinary verification at the screen rung's small shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..probes import ProbeConfig, run_probes
from ..train.ladder import Rung
from ..train.report import VerificationReport
from .components import orient, raw_lm, raw_margin, raw_probe
from .score import screen_score


def bytes_per_token(tokenizer: Any, tokens: np.ndarray) -> float | None:
    """UTF-8 bytes per token of `tokens` decoded (what turns nats per token into bits per byte)."""
    if len(tokens) == 0:
        return None
    text = tokenizer.decode([int(t) for t in tokens], skip_special_tokens=True)
    n_bytes = len(text.encode("utf-8"))
    return n_bytes / len(tokens) if n_bytes else None


def val_bpb(report: VerificationReport, tokenizer: Any, val_tokens: np.ndarray) -> None:
    """Fill `report.val_bpb` from the validation loss where verification did not already."""
    if report.val_bpb is not None or report.val_loss is None or not math.isfinite(report.val_loss):
        return
    if report.val_bytes_per_token is None:
        report.val_bytes_per_token = bytes_per_token(tokenizer, val_tokens)
    if report.val_bytes_per_token:
        report.val_bpb = report.val_loss / math.log(2) / report.val_bytes_per_token


def probe_config(rung: Rung, overrides: Mapping[str, Any] | None) -> ProbeConfig:
    return ProbeConfig().with_overrides(**{**rung.extra.get("probes", {}), **(overrides or {})})


def screen_phase(report: VerificationReport, gab_cls: type, gab_config: dict, rung: Rung, seed: int,
                 tokenizer: Any, val_tokens: np.ndarray, emit: Callable[[dict[str, Any]], None],
                 probe_overrides: Mapping[str, Any] | None = None, probe_names: tuple[str, ...] | None = None) -> None:
    """Probes, components and score into `report`. Raises ProbeFailure when a probe fails."""
    val_bpb(report, tokenizer, val_tokens)
    cfg = probe_config(rung, probe_overrides)
    results = run_probes(gab_cls, gab_config, cfg, seed=seed, names=probe_names, progress=emit)
    raw: dict[str, dict[str, Any]] = {f"probe_{name}": raw_probe(r.to_dict()) for name, r in results.items()}
    raw["lm_bpb"] = raw_lm(report.val_loss, report.val_bpb, report.val_bytes_per_token)
    margin = raw_margin(report.eval)
    if margin is not None:
        raw["choice_margin"] = margin
    elif report.eval:
        report.warnings.append("evaluation reports no `margin`: the screen score has no choice_margin component")
    report.components = orient(raw, rung.noise, rung.extra.get("reference_bpb"))
    score, stderr = screen_score(report.components)
    report.fitness = score
    report.config["screen"] = {"probes": {"config": cfg.__dict__, "names": list(results)}, "score_stderr": stderr}
