"""Rerun a reproducibility bundle and compare the new loss curve with the bundle's.

The data directory is checked file by file against the bundle's manifest before anything trains:
a rerun on different data would not reproduce anything, so it is refused with the list of files
that are missing or changed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..train.report import VerificationReport
from .bundle import Bundle, BundleError, read_bundle
from .data_manifest import check_manifest


@dataclass
class CurveComparison:
    points: int  # steps present in both curves
    max_abs_diff: float | None  # None when no step is shared
    missing_steps: int  # steps of the original curve the rerun lacks

    def within(self, tolerance: float) -> bool:
        return self.max_abs_diff is not None and self.max_abs_diff <= tolerance and self.missing_steps == 0

    def describe(self) -> str:
        if self.max_abs_diff is None:
            return "loss curve: no step in common with the bundle's run"
        extra = f", {self.missing_steps} of the original's steps missing" if self.missing_steps else ""
        return f"loss curve: {self.points} steps, max |difference| {self.max_abs_diff:.3g} vs the bundle's run{extra}"


def compare_curves(original: list[dict[str, Any]], rerun: list[dict[str, Any]]) -> CurveComparison:
    new = {int(p["step"]): float(p["loss"]) for p in rerun if p.get("loss") is not None}
    diffs, missing = [], 0
    for point in original:
        if point.get("loss") is None:
            continue
        step = int(point["step"])
        if step in new:
            diffs.append(abs(new[step] - float(point["loss"])))
        else:
            missing += 1
    return CurveComparison(points=len(diffs), max_abs_diff=max(diffs) if diffs else None, missing_steps=missing)


def data_problems(bundle: Bundle, data_dir: Path | None) -> list[str]:
    roles = ("corpus", "tokenizer") if bundle.overrides.get("skip_eval") else ("corpus", "tokenizer", "eval")
    return check_manifest(bundle.data, data_dir, roles)


def rerun_bundle(path: Path, out_dir: Path, data_dir: Path | None, *, device: str = "auto",
                 progress_jsonl: str | None = None, quiet: bool = True
                 ) -> tuple[VerificationReport, CurveComparison, Bundle]:
    """Verify the bundle's design again with its exact options, in the sandbox like every `verify`
    (`train.contained`: the design's code never runs in this process). Raises BundleError before
    training on other data."""
    from ..train.contained import run_contained

    bundle = read_bundle(Path(path))
    problems = data_problems(bundle, data_dir)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise BundleError(f"the data directory {data_dir} differs from the bundle's data: {shown}")
    raw = dict(bundle.manifest["overrides"])
    seed = int(raw.pop("seed", 42))
    raw.pop("device", None)
    raw.pop("show_bar", None)
    args = argparse.Namespace(
        rung=bundle.rung, out=Path(out_dir), data_dir=data_dir, device=device, seed=seed, train_tokens=None,
        tasks=None, eval_limit=None, no_eval=False, compile=None, quiet=quiet, progress_jsonl=progress_jsonl,
        set=[f"{key}={json.dumps(value)}" for key, value in raw.items()],
    )
    run_contained(args, bundle.tree, bundle.overrides)
    report = VerificationReport.read(Path(out_dir))
    comparison = compare_curves(bundle.report.loss_curve, report.loss_curve)
    if report.data.get("hash") and report.data.get("hash") != bundle.data.get("data_hash"):
        report.warnings.append(f"the tokenised data hash {report.data.get('hash')} differs from the bundle's "
                               f"{bundle.data.get('data_hash')}: the data options were not the same")
        report.write(Path(out_dir))
    return report, comparison, bundle
