"""Synthetic capability probes (MAD-style): one task per module, one small shared trainer.

`run_probes(gab_cls, gab_config, config)` trains a fresh small model per probe and returns each
probe's test accuracy; the screen (verifier.core.screen) turns those into components of its score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import compression, fuzzy_recall, in_context_recall, memorization, noisy_recall, selective_copying
from .base import Probe, ProbeConfig
from .trainer import ProbeFailure, ProbeResult, train_probe

PROBES: dict[str, Probe] = {
    module.PROBE.name: module.PROBE
    for module in (in_context_recall, fuzzy_recall, noisy_recall, selective_copying, compression, memorization)
}


def run_probes(gab_cls: type, gab_config: dict, config: ProbeConfig | None = None, seed: int = 0,
               names: Iterable[str] | None = None,
               progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, ProbeResult]:
    """Each named probe (default: all) trained and scored in turn. Raises ProbeFailure on the first
    probe the design fails."""
    config = config or ProbeConfig()
    results = {}
    for name in names or PROBES:
        if name not in PROBES:
            raise KeyError(f"unknown probe {name!r}; probes are {', '.join(PROBES)}")
        result = train_probe(gab_cls, gab_config, PROBES[name], config, seed)
        results[name] = result
        if progress:
            progress({"event": "probe", "probe": name, "accuracy": result.accuracy, "seconds": round(result.seconds, 2)})
    return results


__all__ = ["PROBES", "Probe", "ProbeConfig", "ProbeFailure", "ProbeResult", "run_probes", "train_probe"]
