"""Time each stage of the checker on the seeds, and how many checks this machine does per minute.

    GENESYS_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_checker.py [--repeat 2] [--parallel 2]

The GPT reference figures are measured first (and cached in a fresh directory, so that cost is
shown separately); then every seed is checked `--repeat` times in a row; then the same checks run
`--parallel` at a time for throughput. Static-only checks per minute are measured on the seeds too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from verifier.core.checker import CheckConfig, run_checks  # noqa: E402
from verifier.core.seeds import available_seeds, load_seed  # noqa: E402

STAGES = ("static", "load", "init", "forward", "causality", "gradients", "train", "performance", "compare")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=2, help="checks per seed for the per-stage medians")
    parser.add_argument("--parallel", type=int, default=2, help="checks at a time for the throughput figure")
    parser.add_argument("--sandbox", default="auto", choices=("auto", "bubblewrap", "rlimit"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-checker-") as cache:
        config = CheckConfig(cache_dir=cache, sandbox=args.sandbox)
        start = time.perf_counter()
        reference = run_checks(load_seed(config.reference_seed), config)
        print(
            f"reference ({config.reference_seed}) measured and cached in {time.perf_counter() - start:.1f}s "
            f"(sandbox: {reference.sandbox}; includes this first check)\n"
        )

        seeds = available_seeds()
        rows: dict[str, list] = {s: [] for s in seeds}
        for _ in range(args.repeat):
            for seed in seeds:
                rows[seed].append(run_checks(load_seed(seed), config))
        header = f"{'seed':<8} {'passed':<6} {'total':>6} {'startup':>7} " + " ".join(
            f"{s[:8]:>8}" for s in STAGES
        )
        print("median seconds per stage over", args.repeat, "checks")
        print(header)
        totals = []
        for seed, reports in rows.items():
            totals += [r.seconds for r in reports]
            cells = [
                statistics.median(r.stages[s].seconds if s in r.stages else 0.0 for r in reports)
                for s in STAGES
            ]
            startup = statistics.median(r.figures.get("sandbox_startup_seconds", 0.0) for r in reports)
            print(
                f"{seed:<8} {str(all(r.passed for r in reports)):<6} "
                f"{statistics.median(r.seconds for r in reports):6.2f} {startup:7.2f} "
                + " ".join(f"{c:8.2f}" for c in cells)
            )
        print("\nagainst the GPT seed (median ratios; errors above 3x time/FLOPs, 4x memory)")
        print(f"{'seed':<8} {'time':>6} {'flops':>6} {'memory':>6} {'params':>6} {'loss':>6}")
        for seed, reports in rows.items():
            ratios = [
                statistics.median(float(r.figures.get(k, "nan")) for r in reports)
                for k in (
                    "time_units_ratio",
                    "flops_per_step_ratio",
                    "memory_bytes_ratio",
                    "params_non_embedding_ratio",
                    "loss_last_ratio",
                )
            ]
            print(f"{seed:<8} " + " ".join(f"{x:6.2f}" for x in ratios))
        print(
            f"\nsequential: {60 / statistics.fmean(totals):.1f} full checks per minute "
            f"(mean {statistics.fmean(totals):.2f}s, max {max(totals):.2f}s)"
        )

        batch = [s for s in seeds for _ in range(args.parallel)]
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            results = list(pool.map(lambda s: run_checks(load_seed(s), config), batch))
        elapsed = time.perf_counter() - start
        print(
            f"{args.parallel} at a time: {60 * len(batch) / elapsed:.1f} full checks per minute "
            f"({len(batch)} checks in {elapsed:.1f}s, all passed: {all(r.passed for r in results)})"
        )

        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < 5:
            for seed in seeds:
                run_checks(load_seed(seed), config, stages=("static",))
                n += 1
        print(f"static only: {60 * n / (time.perf_counter() - start):.0f} checks per minute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
