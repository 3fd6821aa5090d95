"""Verify every seed end to end at a CPU rung (train, then lm-eval on the local tasks) and tabulate.

    GENESYS_DATA_DIR=../shared/data python benchmarks/verify_seeds_cpu.py --rung micro
    python benchmarks/verify_seeds_cpu.py --rung tiny --seeds gpt,retnet --threads 2

Each seed runs as `python -m verifier.core verify <seed> --rung <rung>` in its own process, the way
the evolution's workers run it; reports land in `--out/<seed>/report.json` and the table (final
and validation loss, fitness, per-task accuracy, minutes) is printed and written to
`--out/summary.md` and `summary.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from verifier.core.seeds import available_seeds

REPO = Path(__file__).resolve().parent.parent


def run_seed(seed: str, args: argparse.Namespace) -> dict:
    out = args.out / seed
    cmd = [sys.executable, "-m", "verifier.core", "verify", seed, "--rung", args.rung, "--out", str(out),
           "--quiet", "--progress-jsonl", str(out.parent / f"{seed}.progress.jsonl")]
    if args.data_dir:
        cmd += ["--data-dir", str(args.data_dir)]
    if args.eval_limit:
        cmd += ["--eval-limit", args.eval_limit]
    if args.train_tokens:
        cmd += ["--train-tokens", str(args.train_tokens)]
    for item in args.set:
        cmd += ["--set", item]
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
        cmd += ["--set", f"threads={args.threads}"]
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    minutes = (time.perf_counter() - start) / 60
    report_path = out / "report.json"
    if not report_path.exists():
        return {"name": seed, "status": "no report", "minutes": minutes, "stderr": done.stderr[-2000:]}
    report = json.loads(report_path.read_text())
    return {**report, "name": seed, "minutes": minutes}  # the report's own "seed" is the training seed


def table(rows: list[dict]) -> str:
    tasks = sorted({t for r in rows for t in (r.get("eval") or {})})
    head = ["seed", "status", "shape", "params", "train loss", "val loss", "fitness", "tok/s", "minutes"]
    head += [t.removesuffix("_local") for t in tasks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        shape = r.get("shape") or {}

        def num(value, fmt):
            return format(value, fmt) if isinstance(value, (int, float)) else "-"

        cells = [r["name"], r.get("status", "?") + (f" ({r['error']})" if r.get("error") else ""),
                 f"{shape.get('d_model', '?')}x{shape.get('n_block', '?')}", num(shape.get("non_embedding_params"), ","),
                 num(r.get("final_train_loss"), ".3f"), num(r.get("val_loss"), ".3f"), num(r.get("fitness"), "+.4f"),
                 num(r.get("tokens_per_s"), ",.0f"), num(r.get("minutes"), ".1f")]
        for t in tasks:
            row = (r.get("eval") or {}).get(t, {})
            cells.append(num(row.get("acc_norm", row.get("acc")), ".3f"))
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rung", default="micro")
    parser.add_argument("--seeds", default=",".join(available_seeds()))
    parser.add_argument("--out", type=Path, default=REPO / "var" / "verify-seeds")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $GENESYS_DATA_DIR")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for each run")
    parser.add_argument("--eval-limit", default=None)
    parser.add_argument("--train-tokens", type=int, default=None)
    parser.add_argument("--set", action="append", default=[], help="passed on to verify")
    args = parser.parse_args()
    args.out = args.out / args.rung
    rows = []
    for seed in args.seeds.split(","):
        print(f"verifying {seed} at {args.rung} ...", flush=True)
        row = run_seed(seed, args)
        rows.append(row)
        print(f"  {row.get('status')}: train loss {row.get('final_train_loss')}, val loss {row.get('val_loss')}, "
              f"fitness {row.get('fitness')}, {row['minutes']:.1f} min", flush=True)
    text = table(rows)
    print("\n" + text)
    (args.out / "summary.md").write_text(text + "\n")
    keep = ("name", "seed", "status", "error", "minutes", "shape", "final_train_loss", "val_loss", "val_perplexity",
            "fitness", "task_scores", "eval", "tokens_per_s", "wall_time_s", "data")
    (args.out / "summary.json").write_text(json.dumps([{k: r.get(k) for k in keep} for r in rows], indent=2))


if __name__ == "__main__":
    main()
