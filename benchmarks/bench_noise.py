"""Seed-to-seed noise of a rung: the same design verified with several training seeds.

    GENESYS_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_noise.py --out DIR \
        [--design gpt] [--rung micro] [--seeds 42,1,2] [--no-eval]

Each seed is its own contained `verify` child (cached under DIR/<rung>/<design>/seed-<s>/, so the
benchmark resumes). Prints, per component, the values per seed, their mean and sample standard
deviation: validation loss and bits per byte; per task acc, acc_norm and the likelihood scores
(log-probability per byte of the correct choice, its per-byte margin over the best wrong one); the rung's fitness
under every metric (accuracy, likelihood, bpb; the screen score at the screen rung, recomputed
from its raw components). `--json PATH` writes the table in the form ladder.py's `Rung.noise` takes.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from verifier.core.screen.child import run_child  # noqa: E402
from verifier.core.train.fitness import compute_rung_fitness  # noqa: E402
from verifier.core.train.report import VerificationReport  # noqa: E402

TASK_KEYS = ("acc", "acc_norm", "logprob_per_byte", "margin", "perplexity")


def components(report: VerificationReport) -> dict[str, float]:
    """Every number of a report whose seed-to-seed spread matters for selection."""
    out: dict[str, float] = {}
    if report.val_loss is not None:
        out["val_loss"] = report.val_loss
    if report.val_bpb is not None:
        out["val_bpb"] = report.val_bpb
    for task, row in sorted(report.eval.items()):
        for key in TASK_KEYS:
            value = row.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                out[f"{task}.{key}"] = float(value)
    if report.components:
        for name, comp in report.components.items():
            value = comp.get("raw", comp.get("value"))
            if isinstance(value, (int, float)) and math.isfinite(value):
                out[name] = float(value)
        out["fitness:screen"] = compute_rung_fitness("screen", {}, components=report.components).value or math.nan
    else:
        for metric in ("accuracy", "likelihood", "bpb"):
            fit = compute_rung_fitness(metric, report.eval, val_bpb=report.val_bpb)
            if fit.value is not None:
                out[f"fitness:{metric}"] = fit.value
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--design", default="gpt")
    p.add_argument("--rung", default="micro")
    p.add_argument("--seeds", default="42,1,2")
    p.add_argument("--no-eval", action="store_true")
    p.add_argument("--timeout", type=float, default=7200.0)
    p.add_argument("--json", type=Path, help="write {component: std, ..., measured: ...} here")
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    if len(seeds) < 2:
        p.error("--seeds needs at least two seeds")
    stem = Path(args.design).stem
    per_seed: dict[int, dict[str, float]] = {}
    for seed in seeds:
        folder = args.out / args.rung / stem / f"seed-{seed}"
        if not (folder / "report.json").exists():
            argv_ = ["verify", args.design, "--rung", args.rung, "--seed", str(seed), "--out", str(folder),
                     "--quiet", "--device", "cpu", *(["--no-eval"] if args.no_eval else [])]
            child = run_child(argv_, folder / "log.txt", args.timeout)
            print(f"  seed {seed}: exit {child.returncode}, {child.wall_s:.0f} s wall", flush=True)
        try:
            report = VerificationReport.read(folder / "report.json")
        except (OSError, ValueError) as exc:
            print(f"  seed {seed}: no report ({exc})")
            continue
        if not report.ok:
            print(f"  seed {seed}: failed ({report.failure})")
            continue
        per_seed[seed] = components(report)
        print(f"  seed {seed}: {report.wall_time_s.get('total', math.nan):.0f} s in the child", flush=True)
    if len(per_seed) < 2:
        print("fewer than two seeds finished: no spread to report")
        return 1
    names = sorted(set.intersection(*(set(c) for c in per_seed.values())))
    noise: dict[str, Any] = {}
    print(f"\n{args.design} at {args.rung}, seeds {', '.join(map(str, per_seed))}")
    print(f"{'component':42}" + "".join(f"{s:>11}" for s in per_seed) + f"{'mean':>11}{'std':>10}")
    for name in names:
        values = [per_seed[s][name] for s in per_seed]
        sd = statistics.stdev(values)
        noise[name] = round(sd, 5)
        print(f"{name:42}" + "".join(f"{v:>11.5g}" for v in values) + f"{statistics.fmean(values):>11.5g}{sd:>10.4g}")
    noise["measured"] = (f"{args.design} seed, verify --rung {args.rung} with --seed {', '.join(map(str, per_seed))}"
                         f" (sample std of {len(per_seed)})")
    if args.json:
        args.json.write_text(json.dumps(noise, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
