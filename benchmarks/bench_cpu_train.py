"""CPU training, today's path against the fast one, side by side in one run (issue #17).

    GENESYS_DATA_DIR=../shared/data python benchmarks/bench_cpu_train.py --steps 16 --reps 3

The GPT seed at the micro rung (d_model 128, 4 blocks, 8 x 256 tokens a step, the rung's learning-rate
schedule) trains `--steps` steps in a fresh process per path and repetition, interleaved (A, B, A, B
...), so that the load of a shared machine falls on both paths alike. Each child reports every step's
wall time and CPU time (its process's, all threads); the first `--warmup` steps are left out. The
table gives the median and spread (min-max) of tokens/s and CPU seconds per 1k tokens, and the
ratio of medians. The paths must train the same model: their losses are compared step by step and
the run fails if they differ by more than `--tolerance` nats (see `loss_tolerance` for why 0.02).

Paths (verifier.core.train.cpu_threads.PATHS): "reference" is the trainer as it was (for-loop AdamW,
torch's default threads, OpenMP spinning); "fast" is the default now (fused AdamW, OpenMP threads
that sleep instead of spinning when they wait).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Two identical fp32 runs differ only by float summation order (fused vs for-loop AdamW, thread
# splits of a reduction). Over a few dozen steps that moves the loss by ~1e-4 nats; the GPT seed's
# seed-to-seed spread at the screen rung is ~0.01 bpb. 0.02 nats is well above the first and of the
# order of the second: a path that changed the science (another batch, another schedule, bf16)
# moves the curve by more.
DEFAULT_TOLERANCE = 0.02


def child(args: argparse.Namespace) -> None:
    """One path, one process: train and print one JSON line with the per-step figures."""
    import torch

    from verifier.core.gau.composer import compose
    from verifier.core.gau.loader import load_gab
    from verifier.core.seeds import load_seed
    from verifier.core.train.autotune import build_model, fit_to_rung
    from verifier.core.train.cpu_threads import PATHS, apply_threads
    from verifier.core.train.data import DataConfig, PackedSequences, load_token_stream
    from verifier.core.train.ladder import get_rung
    from verifier.core.train.trainer import Trainer, TrainSettings
    from verifier.core.train.verify import seed_everything

    path = PATHS[args.path]
    apply_threads(path)
    rung = get_rung(args.rung)
    stream = load_token_stream(DataConfig(corpus=args.corpus, val_tokens=2**14), args.data_dir, args.cache_dir,
                               log=lambda m: print(m, file=sys.stderr))
    gab, gab_config = load_gab(compose(load_seed(args.seed_design)))
    size = fit_to_rung(gab, gab_config, rung, 32000)
    seed_everything(42)
    model = build_model(gab, gab_config, 32000, size.d_model, size.n_block, rung.context_length, device="cpu")
    settings = TrainSettings(total_steps=rung.total_steps, batch_seqs=rung.batch_seqs, seq_len=rung.context_length,
                             lr=rung.lr, micro_batch=rung.batch_seqs, stop_after_step=args.steps, show_bar=False,
                             fused_adamw=path.fused_adamw)
    cpu_marks: list[float] = []
    trainer = Trainer(model, PackedSequences(stream.train, rung.context_length), settings, torch.device("cpu"),
                      progress=lambda event: cpu_marks.append(time.process_time()))
    cpu0 = time.process_time()
    result = trainer.run()
    if result.failure is not None and result.failure.category != "interrupted":
        raise SystemExit(f"training failed: {result.failure}")
    steps = result.loss_curve
    starts = [cpu0, *cpu_marks[:-1]]  # the first step's CPU time includes the FLOP count and the probe
    print(json.dumps({
        "path": args.path, "threads": torch.get_num_threads(), "env": {k: os.environ.get(k) for k in path.env},
        "tokens_per_step": rung.batch_tokens, "loss": [p["loss"] for p in steps],
        "wall_s": [p["step_time_s"] for p in steps], "cpu_s": [b - a for a, b in zip(starts, cpu_marks, strict=True)],
    }))


def run_child(path: str, args: argparse.Namespace) -> dict:
    from verifier.core.train.cpu_threads import PATHS, THREAD_ENV

    cmd = [sys.executable, __file__, "--child", "--path", path, "--steps", str(args.steps), "--rung", args.rung,
           "--corpus", args.corpus, "--cache-dir", str(args.cache_dir), "--seed-design", args.seed_design]
    if args.data_dir:
        cmd += ["--data-dir", str(args.data_dir)]
    inherited = {k: v for k, v in os.environ.items() if k not in THREAD_ENV}  # each path sets its own
    env = {**inherited, **PATHS[path].env, "PYTHONPATH": str(REPO)}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{path} child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def loss_gap(a: list[float], b: list[float]) -> float:
    """The largest step-by-step difference of two loss curves (over the steps both have)."""
    n = min(len(a), len(b))
    if n == 0:
        raise ValueError("no steps to compare")
    return max(abs(x - y) for x, y in zip(a[:n], b[:n], strict=True))


def summarise(runs: list[dict], warmup: int) -> dict:
    """Per run: tokens/s (tokens over wall time) and CPU seconds per 1k tokens of the measured steps;
    then median and min-max over the runs."""
    tps, cpu_k = [], []
    for r in runs:
        wall, cpu = r["wall_s"][warmup:], r["cpu_s"][warmup:]
        tokens = r["tokens_per_step"] * len(wall)
        tps.append(tokens / sum(wall))
        cpu_k.append(1000 * sum(cpu) / tokens)
    return {"tokens_per_s": _spread(tps), "cpu_s_per_1k_tokens": _spread(cpu_k), "threads": runs[0]["threads"],
            "env": runs[0]["env"], "runs": len(runs)}


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "all": values}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=16, help="steps per run (the rung's schedule, stopped early)")
    p.add_argument("--warmup", type=int, default=2, help="first steps left out of the figures")
    p.add_argument("--reps", type=int, default=3, help="runs of each path, interleaved")
    p.add_argument("--paths", default="reference,fast")
    p.add_argument("--rung", default="micro")
    p.add_argument("--seed-design", default="gpt")
    p.add_argument("--corpus", default="corpora/tinyshakespeare", help="small, so tokenising takes seconds")
    p.add_argument("--data-dir", type=Path, default=os.environ.get("GENESYS_DATA_DIR"))
    p.add_argument("--cache-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "genesys-bench-cache")
    p.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="largest loss difference (nats)")
    p.add_argument("--json", type=Path, help="write the figures here too")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    if args.steps <= args.warmup:
        p.error("--steps must be larger than --warmup")
    paths = [s.strip() for s in args.paths.split(",") if s.strip()]
    runs: dict[str, list[dict]] = {name: [] for name in paths}
    for rep in range(args.reps):
        for name in paths:
            start = time.perf_counter()
            runs[name].append(run_child(name, args))
            last = runs[name][-1]
            print(f"rep {rep + 1} {name:<9} {time.perf_counter() - start:6.1f}s  loss {last['loss'][-1]:.4f}",
                  flush=True)
    figures = {name: summarise(rs, args.warmup) for name, rs in runs.items()}
    base = paths[0]
    gaps = {name: max(loss_gap(runs[base][0]["loss"], r["loss"]) for r in runs[name]) for name in paths}
    print(f"\nGPT seed at {args.rung}, {args.steps} steps (first {args.warmup} left out), {args.reps} runs per "
          f"path, interleaved; median [min-max]")
    print(f"{'path':<10} {'threads':>7} {'tokens/s':>22} {'CPU s / 1k tokens':>24} {'max |loss gap|':>15}")
    for name in paths:
        f = figures[name]
        t, c = f["tokens_per_s"], f["cpu_s_per_1k_tokens"]
        print(f"{name:<10} {f['threads']:>7} {t['median']:>8.0f} [{t['min']:.0f}-{t['max']:.0f}]".ljust(41)
              + f" {c['median']:>7.3f} [{c['min']:.3f}-{c['max']:.3f}]".ljust(25) + f" {gaps[name]:>12.5f}")
    for name in paths[1:]:
        speed = figures[name]["tokens_per_s"]["median"] / figures[base]["tokens_per_s"]["median"]
        cpu = figures[base]["cpu_s_per_1k_tokens"]["median"] / figures[name]["cpu_s_per_1k_tokens"]["median"]
        print(f"{name} / {base}: {speed:.2f}x tokens/s, {cpu:.2f}x less CPU per token")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "loss_gap": gaps, "runs": runs}, indent=1))
    worst = max(gaps.values())
    if worst > args.tolerance:
        raise SystemExit(f"the loss curves differ by {worst:.4f} nats > {args.tolerance}: not the same training")
    print(f"loss curves agree within {args.tolerance} nats (largest gap {worst:.5f})")


if __name__ == "__main__":
    main()
