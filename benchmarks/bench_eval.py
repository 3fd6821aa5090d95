"""A rung's evaluation, lm-eval's HFLM path and the exact fast path side by side: time and agreement.

    GENESYS_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_eval.py [--rung micro] [--seed gpt]
        [--weights report_dir/model.safetensors] [--tasks piqa_local,...] [--limit N] [--order fast,hflm] [--reps 3]

Builds the seed at the rung's shape (random initialisation unless --weights), then runs
`evaluation.evaluate` on the rung's tasks and example limits once per engine, in the given order
(importing lm-eval, datasets and transformers is timed apart, once; then an untimed warm-up
of every engine on 2 examples per task pays the first-call costs — lazy imports, the datasets'
Arrow cache, first torch calls — that would otherwise land on whichever engine runs first; then
`--reps` timed runs per engine, interleaved, the order reversed every other repetition; medians). The process runs with the
OpenMP settings of verify's child, where evaluation runs in production (`OMP_WAIT_POLICY=PASSIVE`
unless set; cpu_threads.py), unless --inherit-threads. "hflm" is today's path: lm-eval as it is (its whole
task index, the task files as written) around HFLM; "fast" is the exact fast scorer with lean task
loading (local task index only, no few-shot pools at zero shots). Prints each engine's wall time per call, the speed-up, and the largest difference
between the two engines' results: absolute for accuracies and likelihood scores, relative for
perplexities. `--json PATH` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from verifier.core.gau import compose, load_gab  # noqa: E402
from verifier.core.seeds import load_seed  # noqa: E402
from verifier.core.train.autotune import build_model, fit_to_rung  # noqa: E402
from verifier.core.train.cpu_threads import THREAD_ENV, TRAINING_ENV, training_env  # noqa: E402
from verifier.core.train.data import default_cache_dir, load_tokenizer  # noqa: E402
from verifier.core.train.evaluation import evaluate  # noqa: E402
from verifier.core.train.ladder import get_rung  # noqa: E402

RELATIVE = ("perplexity", "word_perplexity", "byte_perplexity")


def differences(a: dict, b: dict) -> tuple[float, float, str]:
    """(largest absolute difference, largest relative difference of perplexities, where the first is)."""
    worst_abs, worst_rel, where = 0.0, 0.0, ""
    for task in a:
        for key, x in a[task].items():
            y = b.get(task, {}).get(key)
            if not isinstance(x, (int, float)) or not isinstance(y, (int, float)) or key in ("limit", "samples"):
                continue
            if key.split("_stderr")[0] in RELATIVE:
                worst_rel = max(worst_rel, abs(x - y) / max(abs(x), 1e-12))
            elif abs(x - y) > worst_abs:
                worst_abs, where = abs(x - y), f"{task}.{key}"
    return worst_abs, worst_rel, where


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rung", default="micro")
    parser.add_argument("--seed", default="gpt", help="seed design to build at the rung's shape")
    parser.add_argument("--weights", help="safetensors weights of that design at that shape (default: random init)")
    parser.add_argument("--tasks", help="comma-separated tasks (default: the rung's)")
    parser.add_argument("--limit", type=int, help="examples per task for every task (default: the rung's limits)")
    parser.add_argument("--order", default="fast,hflm")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, help="default: 64 on CUDA, 16 on CPU (as verify)")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--reps", type=int, default=3, help="timed runs per engine, interleaved (default 3)")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="time the first call too (lazy imports, cold caches land on the first engine)")
    parser.add_argument("--inherit-threads", action="store_true",
                        help="keep this shell's OpenMP settings instead of verify's child's (cpu_threads.py)")
    args = parser.parse_args()
    if not args.inherit_threads and any(k not in os.environ for k in TRAINING_ENV):
        # Evaluate as `verify` does: in its sandboxed child, with sleeping OpenMP threads unless the
        # operator set otherwise. Read when OpenMP starts, so the process is started anew with it.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **training_env()})

    data_dir = Path(os.environ.get("GENESYS_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    rung = get_rung(args.rung)
    tokenizer = load_tokenizer("tokenizers/llama2", data_dir)
    gab_cls, gab_config = load_gab(compose(load_seed(args.seed)), args.seed)
    size = fit_to_rung(gab_cls, gab_config, rung, len(tokenizer))
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model(gab_cls, gab_config, len(tokenizer), size.d_model, size.n_block, rung.context_length,
                        device=device).eval()
    if args.weights:
        from verifier.core.train.checkpoint import load_weights

        load_weights(Path(args.weights), model)
    tasks = args.tasks.split(",") if args.tasks else list(rung.tasks)
    limit = args.limit if args.limit is not None else rung.eval_limit
    limits = None if args.limit is not None else dict(rung.eval_limits)
    batch_size = args.batch_size or (64 if device.type == "cuda" else 16)
    print(f"{args.seed} at {rung.name}: d_model {size.d_model}, n_block {size.n_block}, "
          f"{model.num_params(non_embedding=False):,} parameters on {device} ({torch.get_num_threads()} threads, "
          f"{' '.join(f'{k}={os.environ[k]}' for k in THREAD_ENV if k in os.environ) or 'OpenMP defaults'}); "
          f"tasks {','.join(tasks)}; limit {limit} {limits or ''}", flush=True)
    start = time.perf_counter()
    # paid once per process by whichever engine runs first: timed apart (evaluate's own imports too)
    import datasets  # noqa: F401
    import lm_eval.evaluator  # noqa: F401
    import lm_eval.models.huggingface  # noqa: F401
    import lm_eval.tasks  # noqa: F401
    import transformers.modeling_utils  # noqa: F401

    imports = time.perf_counter() - start
    print(f"importing lm-eval and transformers: {imports:.1f} s (once per process, either engine)", flush=True)
    engines = args.order.split(",")
    if args.warmup:
        # First-call costs that either engine would pay for the other (lm-eval's lazy imports, the
        # datasets' Arrow cache, the tokenizer's and torch's first calls): paid here, untimed.
        start = time.perf_counter()
        for engine in engines:
            evaluate(model, tokenizer, tasks, data_dir, default_cache_dir(), limit=2, limits=None,
                     batch_size=batch_size, device=device, engine=engine)
        print(f"warm-up (every engine, 2 examples per task): {time.perf_counter() - start:.1f} s", flush=True)
    results: dict = {}
    runs: dict[str, list[tuple[float, float]]] = {engine: [] for engine in engines}
    for rep in range(max(1, args.reps)):
        # interleaved, the order reversed every other repetition: neither engine always goes first
        for engine in (engines if rep % 2 == 0 else engines[::-1]):
            start, cpu_start = time.perf_counter(), time.process_time()
            results[engine] = evaluate(model, tokenizer, tasks, data_dir, default_cache_dir(), limit=limit,
                                       limits=limits, batch_size=batch_size, device=device, engine=engine)
            runs[engine].append((time.perf_counter() - start, time.process_time() - cpu_start))
            wall, cpu = runs[engine][-1]
            print(f"{engine:>5}: {wall:8.1f} s wall, {cpu:8.1f} s CPU (repetition {rep + 1})", flush=True)
    seconds = {engine: statistics.median(w for w, _ in runs[engine]) for engine in engines}
    cpu_seconds = {engine: statistics.median(c for _, c in runs[engine]) for engine in engines}
    for engine in engines:
        walls, cpus = [w for w, _ in runs[engine]], [c for _, c in runs[engine]]
        print(f"{engine:>5}: median {seconds[engine]:.1f} s wall ({min(walls):.1f}-{max(walls):.1f}), "
              f"{cpu_seconds[engine]:.1f} s CPU ({min(cpus):.1f}-{max(cpus):.1f}) over {len(walls)} runs")
    figures: dict = {"import_seconds": imports, "rung": rung.name, "seed": args.seed, "device": str(device), "seconds": seconds,
                     "runs": runs, "warmup": args.warmup,
                     "threads": torch.get_num_threads(), "thread_env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
                     "tasks": tasks, "limit": limit, "limits": limits}
    if {"fast", "hflm"} <= set(results):
        worst_abs, worst_rel, where = differences(results["hflm"], results["fast"])
        figures.update(speedup=seconds["hflm"] / seconds["fast"], cpu_seconds=cpu_seconds,
                       cpu_speedup=cpu_seconds["hflm"] / cpu_seconds["fast"], max_abs_diff=worst_abs,
                       speedups_per_repetition=[(h[0] / f[0], h[1] / f[1]) for h, f in
                                                zip(runs["hflm"], runs["fast"], strict=True)],
                       max_rel_diff_perplexity=worst_rel, worst=where)
        print(f"speed-up (medians) {figures['speedup']:.2f}x wall, {figures['cpu_speedup']:.2f}x CPU time; largest difference {worst_abs:.2e} ({where or '-'}), "
              f"perplexities {worst_rel:.2e} relative")
        print(f"{'task':<24}{'acc hflm':>10}{'acc fast':>10}{'lp/byte':>10}{'margin':>10}{'docs':>6}")
        for task in tasks:
            h, f = results["hflm"][task], results["fast"][task]
            margin = f.get("margin")
            print(f"{task:<24}{h.get('acc', math.nan):>10.4f}{f.get('acc', math.nan):>10.4f}"
                  f"{f.get('logprob_per_byte', math.nan):>10.4f}{math.nan if margin is None else margin:>10.4f}"
                  f"{f.get('docs') or 0:>6}")
    figures["results"] = results
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
