"""The screen's score components: raw numbers in, oriented values and weights out.

The child process that trains the design writes the raw numbers (probe accuracies and their
chance levels, the held-out bits per byte, the multiple-choice margins); `orient` turns raw
numbers into `{"value", "stderr", "weight"}` (higher is better). The parent calls `orient` again
on the raw numbers, so the score never rests on a value or weight the design's process wrote.

Orientation and weights (a documented first choice, docs/VERIFIER.md "Screen"):
- probe_<name>: accuracy above chance as a fraction of the possible gain, (acc - chance) / (1 - chance);
  the six probes share half of the weight.
- lm_bpb: the relative improvement over the GPT seed's screen bpb, in tenths:
  10 * (ref - bpb) / ref, so a design 5% better than GPT scores +0.5; weight: the other half.
- choice_margin: the mean over multiple-choice tasks of the margin between the correct and the best
  wrong choice (per byte), when evaluation reports it; a small weight (at this size it is mostly noise).
Each stderr is the larger of the sampling stderr and the rung's measured seed-to-seed noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

PROBE_PREFIX = "probe_"
PROBES_WEIGHT = 0.5  # shared by the probes
BPB_WEIGHT = 0.5
MARGIN_WEIGHT = 0.1
BPB_SCALE = 10.0  # relative bpb improvement -> value


def _finite(x: Any) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _stderr(sampling: Any, noise: Any) -> float | None:
    values = [float(v) for v in (sampling, noise) if _finite(v)]
    return max(values) if values else None


def raw_probe(result: Mapping[str, Any]) -> dict[str, Any]:
    """The raw numbers of one probe's result (a ProbeResult.to_dict())."""
    keys = ("accuracy", "stderr", "chance", "n_sequences", "n_targets", "final_loss", "steps", "seconds", "params")
    return {k: result[k] for k in keys if k in result}


def raw_lm(val_loss: float | None, val_bpb: float | None, bytes_per_token: float | None) -> dict[str, Any]:
    return {"val_loss": val_loss, "bpb": val_bpb, "bytes_per_token": bytes_per_token}


def raw_margin(eval_rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """Mean margin (and its stderr) over the tasks whose rows report `margin`; None when none does."""
    margins = [(float(r["margin"]), r.get("margin_stderr")) for r in eval_rows.values() if _finite(r.get("margin"))]
    if not margins:
        return None
    n = len(margins)
    errs = [float(e) for _, e in margins if _finite(e)]
    stderr = math.sqrt(sum(e * e for e in errs)) / n if len(errs) == n else None
    return {"margin": sum(m for m, _ in margins) / n, "margin_stderr": stderr, "tasks": n}


def orient(raw: Mapping[str, Mapping[str, Any]], noise: Mapping[str, Any] | None = None,
           reference_bpb: float | None = None) -> dict[str, dict[str, Any]]:
    """Raw components -> components with value (higher is better), stderr and weight (raw kept).

    `noise` (component -> seed-to-seed std) and `reference_bpb` come from the caller's rung, never
    from the raw numbers."""
    noise = noise or {}
    n_probes = sum(1 for name in raw if name.startswith(PROBE_PREFIX))
    out: dict[str, dict[str, Any]] = {}
    for name, comp in raw.items():
        value: float | None = None
        stderr: float | None = None
        weight = 0.0
        if name.startswith(PROBE_PREFIX):
            acc, chance = comp.get("accuracy"), comp.get("chance")
            if _finite(acc) and _finite(chance) and chance < 1:
                value = (acc - chance) / (1 - chance)
                stderr = _stderr(comp.get("stderr"), noise.get(name))
                stderr = stderr / (1 - chance) if stderr is not None else None
                weight = PROBES_WEIGHT / n_probes
        elif name == "lm_bpb":
            bpb, ref, err = comp.get("bpb"), reference_bpb, noise.get(name)
            if _finite(bpb) and _finite(ref) and ref > 0:
                value = BPB_SCALE * (ref - bpb) / ref
                stderr = BPB_SCALE * err / ref if _finite(err) else None
                weight = BPB_WEIGHT
        elif name == "choice_margin" and _finite(comp.get("margin")):
            value = float(comp["margin"])
            stderr = _stderr(comp.get("margin_stderr"), noise.get(name))
            weight = MARGIN_WEIGHT
        out[name] = {**{k: v for k, v in comp.items() if k not in ("value", "stderr", "weight")},
                     "value": value, "stderr": stderr, "weight": weight}
        if name == "lm_bpb":
            out[name]["reference_bpb"] = reference_bpb
        if "stderr" in comp:  # the sampling stderr of the raw number, kept under its own name
            out[name]["sampling_stderr"] = comp["stderr"]
    return out


def raw_of(components: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Back from oriented components to raw ones (what `orient` reads), for the parent's re-score."""
    raw = {}
    for name, comp in components.items():
        r = {k: v for k, v in comp.items()
             if k not in ("value", "stderr", "weight", "sampling_stderr", "reference_bpb")}
        if "sampling_stderr" in comp:
            r["stderr"] = comp["sampling_stderr"]
        raw[name] = r
    return raw
