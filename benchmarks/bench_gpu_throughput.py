"""Training throughput of every seed next to a plain compiled GPT, at the 14M, 31M and 125M rungs.

    python benchmarks/bench_gpu_throughput.py                      # on a GPU (H100: the paper's card)
    python benchmarks/bench_gpu_throughput.py --budget-s 300 --json bench.json   # one-shot, time-boxed
    python benchmarks/bench_gpu_throughput.py --device cpu --steps 3   # smoke test of the script
    python benchmarks/bench_gpu_throughput.py --e2e-14m --data-dir DIR  # plus a full 14M verification
    python benchmarks/bench_gpu_throughput.py --e2e-only --data-dir DIR --e2e-json e2e.json
    python benchmarks/bench_gpu_throughput.py --summarize bench.json e2e.json   # print saved results

Each design is trained by the verification engine's own Trainer (the code path `verify` uses:
data loading, bf16 autocast, torch.compile, chunked cross-entropy, AdamW, clipping, the monitor)
on random tokens with the rung's batch (0.5M tokens, context 2,048). Seeds are sized by the
auto-tuner as in a real verification. The reference is a plain nanoGPT-style model written below
(LayerNorm, GELU MLP, full-logits cross-entropy, torch.compile, fused AdamW, bf16) at the rung's
reference shape, with its micro-batch found the same way (halved on out-of-memory).

FLOPs per token are counted (torch.utils.flop_counter) for every model the same way, so MFU is
comparable between rows; tokens/s are the median over `--steps` steps after `--warmup` steps.
Targets (GPT seed vs the plain reference): >= 1.5x at 14M, >= 1.1x at 125M.

For a one-shot run on a lent GPU (benchmarks/device_check.sh): rows run in priority order (the
GPT seed and the plain GPT at the target rungs first), each row starts as if in a fresh process
(torch._dynamo.reset()), `--budget-s` skips the rows that no longer fit and stops a row that
overruns, `--json` is rewritten after every row, and every row reports its setup, compile (the
first forward and backward, where torch.compile runs, out-of-memory retries included), warm-up and
measured time. Needs torch, numpy and verifier.core only (the end-to-end run needs what `verify`
needs: transformers, datasets, lm-eval).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_e2e import print_e2e, run_e2e
from bench_io import say, write_json
from bench_report import PLAIN, TARGETS, print_tables, row_line, verdicts
from plain_gpt import VOCAB, PlainGPT

from verifier.core.gau import compose, load_gab
from verifier.core.seeds import available_seeds, load_seed
from verifier.core.train.autotune import build_model, fit_to_rung, is_oom, plan_batch, probe_micro_batch
from verifier.core.train.data import PackedSequences
from verifier.core.train.ladder import get_rung
from verifier.core.train.throughput import count_flops, peak_flops
from verifier.core.train.trainer import Trainer, TrainSettings, make_optimizer


@dataclass
class Settings:
    """How every row is run (the same for the plain reference and the seeds)."""

    device: torch.device
    seq: int
    batch_seqs: int | None  # None: the rung's 0.5M tokens
    steps: int
    warmup: int
    compile: bool
    max_micro: dict[str, int]  # rung -> cap on the micro-batch the probe starts from ("*": any rung)
    eager_seeds: frozenset[str] = frozenset()  # seeds trained without torch.compile (compile too slow)

    def batch_for(self, rung: str) -> int:
        return self.batch_seqs or max(1, get_rung(rung).batch_tokens // self.seq)

    def micro_cap(self, rung: str) -> int | None:
        return self.max_micro.get(rung.lower(), self.max_micro.get("*"))


def bench_plain(rung_name: str, s: Settings) -> dict:
    rung, device = get_rung(rung_name), s.device
    batch_seqs, seq = s.batch_for(rung_name), s.seq
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model = PlainGPT(rung.d_model, rung.n_block, seq).to(device)
    opt = make_optimizer(model, 1e-3, 0.1, (0.9, 0.95), device)
    autocast = device.type == "cuda"
    step_fn = torch.compile(model) if s.compile else model

    def loss_of(m, ids):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            return m(ids)

    ids1 = torch.randint(0, VOCAB, (1, seq), device=device)
    flops = count_flops(lambda: loss_of(model, ids1).backward()) / seq
    opt.zero_grad(set_to_none=True)
    _sync(device)
    t_setup = time.perf_counter()

    def try_step(micro: int) -> None:
        ids = torch.randint(0, VOCAB, (micro, seq), device=device)
        loss_of(step_fn, ids).backward()
        opt.zero_grad(set_to_none=True)
        _sync(device)

    plan = probe_micro_batch(plan_batch(batch_seqs, s.micro_cap(rung_name)), try_step)
    t_compile = time.perf_counter()
    times = []
    for _ in range(s.warmup + s.steps):
        batch = torch.randint(0, VOCAB, (batch_seqs, seq), device=device)
        _sync(device)
        t = time.perf_counter()
        for chunk in batch.split(plan.micro_batch):
            (loss_of(step_fn, chunk) * (chunk.shape[0] / batch_seqs)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        times.append(time.perf_counter() - t)
    embeddings = model.embedding.weight.numel() + model.positions.weight.numel()
    params = sum(p.numel() for p in model.parameters()) - embeddings
    row = _row(
        PLAIN,
        rung.d_model,
        rung.n_block,
        params,
        plan.micro_batch,
        plan.grad_accum,
        batch_seqs * seq,
        times[s.warmup :],
        flops,
        device,
    )
    row.update(
        setup_s=t_setup - t0,
        compile_s=t_compile - t_setup,
        warmup_s=sum(times[: s.warmup]),
        oom_micro_batches=list(plan.tried),
        compiled=s.compile,
        chunked_ce=False,
        peak_memory_gb=_peak_gb(device),
    )
    return row


# ---- a seed through the engine's Trainer ------------------------------------------------------------


def bench_seed(name: str, rung_name: str, s: Settings, chunked: bool = True) -> dict:
    device, seq, batch_seqs = s.device, s.seq, s.batch_for(rung_name)
    t0 = time.perf_counter()
    gab, config = load_gab(compose(load_seed(name)), name)
    rung = get_rung(rung_name)
    size = fit_to_rung(gab, config, rung, VOCAB)
    torch.manual_seed(0)
    model = build_model(gab, config, VOCAB, size.d_model, size.n_block, seq, device=device)
    n_tokens = batch_seqs * (s.warmup + s.steps + 1) * seq
    tokens = np.random.default_rng(0).integers(0, VOCAB, (n_tokens,), dtype=np.uint16)
    settings = TrainSettings(
        total_steps=s.warmup + s.steps,
        batch_seqs=batch_seqs,
        seq_len=seq,
        lr=rung.lr,
        max_micro_batch=s.micro_cap(rung_name),
        compile=s.compile and name not in s.eager_seeds,
        chunked_ce=chunked,
        show_bar=False,
        checkpoint_every_s=math.inf,
    )
    loop_start: list[float] = []

    def on_step(event: dict[str, Any]) -> None:  # the loop's start, from the first step's elapsed time
        if not loop_start and event.get("event") == "step":
            loop_start.append(time.perf_counter() - float(event["elapsed_s"]))

    t_setup = time.perf_counter()
    result = Trainer(model, PackedSequences(tokens, seq), settings, device, progress=on_step).run()
    base = {
        "model": name,
        "d_model": size.d_model,
        "n_block": size.n_block,
        "non_embedding_params": size.params,
        "chunked_ce": chunked,
        "setup_s": t_setup - t0,
    }
    if result.failure is not None:
        return {**base, "failure": result.failure.to_dict(), "warnings": result.warnings}
    times = [p["step_time_s"] for p in result.loss_curve]
    row = _row(
        name,
        size.d_model,
        size.n_block,
        size.params,
        result.micro_batch,
        result.grad_accum,
        batch_seqs * seq,
        times[s.warmup :],
        result.flops_per_token or 0.0,
        device,
    )
    compile_s = (loop_start[0] - t_setup) if loop_start else None
    row.update(base)
    row.update(
        compile_s=compile_s,
        warmup_s=sum(times[: s.warmup]),
        oom_micro_batches=result.oom_micro_batches,
        compiled=result.compiled,
        eager=s.compile and not result.compiled,  # asked for (--eager-seeds) or compile failed: see warnings
        peak_memory_gb=result.peak_memory_bytes / 2**30 if device.type == "cuda" else None,
        warnings=result.warnings,
    )
    return row


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_gb(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def _row(
    model: str,
    d: int,
    n: int,
    params: int,
    micro: int,
    accum: int,
    batch_tokens: int,
    times: list[float],
    flops: float,
    device: torch.device,
) -> dict:
    step = float(np.median(times)) if times else None
    tps = batch_tokens / step if step else float("nan")
    peak = peak_flops(device)
    return {
        "model": model,
        "d_model": d,
        "n_block": n,
        "non_embedding_params": params,
        "micro_batch": micro,
        "grad_accum": accum,
        "tokens_per_s": tps,
        "flops_per_token": flops,
        "mfu": tps * flops / peak if peak and step else None,
        "step_s": step,
        "step_times_s": [round(t, 5) for t in times],
        "measure_s": sum(times),
    }


# ---- which rows, in which order ---------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    rung: str
    model: str  # PLAIN or a seed name
    chunked: bool = True

    @property
    def label(self) -> str:
        return f"{self.rung} {self.model}" + ("" if self.chunked else " (full CE)")


def plan_jobs(rungs: list[str], seeds: list[str], full_ce: bool, order: str = "priority") -> list[Job]:
    """Rows to run. `rung`: rung by rung, the plain GPT then each seed. `priority`: first the plain GPT
    and the GPT seed at the rungs with a target (14M, 125M: the must-have numbers), then the rest
    rung by rung, the slow-to-compile seeds with a loop over chunks (rwkv6, ttt) last within a rung."""
    by_rung = []
    for rung in rungs:
        jobs = [Job(rung, PLAIN)]
        for seed in seeds:
            jobs.append(Job(rung, seed))
            if seed == "gpt" and full_ce:
                jobs.append(Job(rung, seed, chunked=False))
        by_rung.append(jobs)
    flat = [job for jobs in by_rung for job in jobs]
    if order == "rung":
        return flat
    if order != "priority":
        raise ValueError(f"unknown order {order!r} (priority or rung)")
    first = [j for j in flat if j.rung in TARGETS and j.model in (PLAIN, "gpt") and j.chunked]
    slow = ("rwkv6", "ttt")
    rest = [j for j in flat if j not in first]
    rest.sort(key=lambda j: (rungs.index(j.rung), j.model in slow))  # stable: seed order kept otherwise
    return first + rest


# ---- time limits ------------------------------------------------------------------------------------


class RowTimeout(BaseException):
    """A row ran past its time (a BaseException, so that the Trainer's error handling lets it through)."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise RowTimeout in the main thread after `seconds` (no limit for None, off the main thread, or
    where there is no SIGALRM)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not seconds or not usable:
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise RowTimeout(f"stopped after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def estimate_s(job: Job, done: list[dict]) -> float | None:
    """A row's likely wall time, from the rows already run at its rung (the same kind first)."""
    same = [r for r in done if r.get("rung") == job.rung and r.get("row_s")]
    if not same:
        return None
    kind = [r for r in same if (r["model"] == PLAIN) == (job.model == PLAIN) and "failure" not in r]
    return float(np.median([r["row_s"] for r in kind])) if kind else max(r["row_s"] for r in same)


def run_job(job: Job, s: Settings, limit: float | None) -> dict:
    """One row, as if in a fresh process; failures, out-of-memory and time-outs become the row."""
    counters: dict = {}
    if s.compile:  # (torch._dynamo takes seconds to import: not without compile)
        torch._dynamo.reset()
        counters = torch._dynamo.utils.counters
        counters.clear()
    if s.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(s.device)
    started = time.perf_counter()
    try:
        with time_limit(limit):
            if job.model == PLAIN:
                row = bench_plain(job.rung, s)
            else:
                row = bench_seed(job.model, job.rung, s, job.chunked)
    except RowTimeout as exc:
        row = {
            "model": job.model,
            "chunked_ce": job.chunked,
            "failure": {"category": "timeout", "message": str(exc)},
        }
    except Exception as exc:  # noqa: BLE001 - report and go on with the next row
        category = "oom" if is_oom(exc) else "error"
        row = {
            "model": job.model,
            "chunked_ce": job.chunked,
            "failure": {"category": category, "message": f"{type(exc).__name__}: {exc}"[:2000]},
        }
    row["rung"], row["label"], row["row_s"] = job.rung, job.label, time.perf_counter() - started
    if s.compile:  # what torch.compile made of the row's model(s): fewer graphs, fewer breaks = better
        breaks = counters.get("graph_break", {})
        row["dynamo"] = {
            "unique_graphs": int(counters.get("stats", {}).get("unique_graphs", 0)),
            "graph_breaks": int(sum(breaks.values())),
            "break_reasons": sorted({str(k).splitlines()[0][:160] for k in breaks})[:5],
        }
    gc.collect()
    if s.device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def run_table(args: argparse.Namespace, s: Settings) -> dict:
    device = s.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    rungs = (args.rungs or ("14M" if device.type == "cpu" else "14M,31M,125M")).split(",")
    jobs = plan_jobs(rungs, args.seeds.split(","), args.full_ce, args.order)
    start = time.perf_counter()
    deadline = start + args.budget_s if args.budget_s else None
    doc: dict[str, Any] = {
        "device": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "context": s.seq,
        "batch_seqs": {r: s.batch_for(r) for r in rungs},
        "steps": s.steps,
        "warmup": s.warmup,
        "compile": s.compile,
        "max_micro_batch": s.max_micro,
        "budget_s": args.budget_s,
        "row_timeout_s": args.row_timeout_s,
        "order": [j.label for j in jobs],
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "complete": False,
        "elapsed_s": 0.0,
        "rows": {r: [] for r in rungs},
        "verdicts": {},
        "skipped": [],
    }
    say(
        f"device: {name}; torch {torch.__version__}; context {s.seq}; {s.steps} measured steps after {s.warmup}; "
        f"compile={s.compile}; budget {args.budget_s or 'none'} s; {len(jobs)} rows: {', '.join(doc['order'])}"
    )
    write_json(args.json, doc)
    done: list[dict] = []
    for job in jobs:
        left = deadline - time.perf_counter() if deadline else None
        estimate = estimate_s(job, done)
        if left is not None and (left < args.min_row_s or (estimate is not None and estimate > left)):
            reason = f"budget: {left:.0f} s left" + (f", estimated {estimate:.0f} s" if estimate else "")
            doc["skipped"].append({"label": job.label, "reason": reason})
            say(f"[{time.perf_counter() - start:5.0f}s] skip {job.label}: {reason}")
            continue
        limits = [x for x in (left, args.row_timeout_s) if x]
        limit = min(limits) if limits else None
        say(
            f"[{time.perf_counter() - start:5.0f}s] {job.label} ..."
            + (f" (limit {limit:.0f} s)" if limit else "")
        )
        row = run_job(job, s, limit)
        done.append(row)
        rows = doc["rows"][job.rung]
        rows.append(row)
        say(f"[{time.perf_counter() - start:5.0f}s]   {row_line(row, rows)}")
        if row.get("dynamo"):
            d = row["dynamo"]
            say(
                f"          torch.compile: {d['unique_graphs']} graphs, {d['graph_breaks']} breaks {d['break_reasons']}"
            )
        if row.get("setup_s") is not None and "failure" not in row:
            say(
                f"          setup {row['setup_s']:.1f}s, compile {row.get('compile_s') or 0:.1f}s, "
                f"warm-up {row.get('warmup_s', 0):.1f}s, measured {row.get('measure_s', 0):.1f}s"
            )
        doc["verdicts"] = verdicts(doc["rows"])
        if job.rung in doc["verdicts"] and job.model in (PLAIN, "gpt"):
            v = doc["verdicts"][job.rung]
            say(
                f"          => GPT seed / plain GPT at {job.rung}: {v['ratio']:.2f}x (target {v['target']}x: "
                f"{'meets' if v['meets'] else 'BELOW'})"
            )
        doc["elapsed_s"] = time.perf_counter() - start
        write_json(args.json, doc)
    doc["complete"] = not doc["skipped"]
    doc["elapsed_s"] = time.perf_counter() - start
    write_json(args.json, doc)
    print_tables(doc)
    return doc


# ---- command line -----------------------------------------------------------------------------------


def parse_micro(text: str | None) -> dict[str, int]:
    """`64` (every rung) or `14M=128,125M=32`."""
    out: dict[str, int] = {}
    for item in filter(None, (text or "").split(",")):
        rung, sep, value = item.partition("=")
        out[rung.strip().lower() if sep else "*"] = int(value if sep else rung)
    return out


def parse_set(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--e2e-set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip().replace("-", "_")] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rungs", default=None, help="comma-separated (default 14M,31M,125M; 14M on CPU)")
    parser.add_argument("--seeds", default=",".join(available_seeds()))
    parser.add_argument(
        "--order",
        default="priority",
        choices=("priority", "rung"),
        help="priority (default): plain + GPT seed at 14M and 125M first; rung: rung by rung",
    )
    parser.add_argument("--steps", type=int, default=20, help="measured steps")
    parser.add_argument(
        "--warmup", type=int, default=None, help="unmeasured steps first (default 5; 1 on CPU)"
    )
    parser.add_argument("--context", type=int, default=None, help="default 2048 (128 on CPU)")
    parser.add_argument(
        "--batch-seqs", type=int, default=None, help="default: the rung's 0.5M tokens (2 on CPU)"
    )
    parser.add_argument(
        "--max-micro-batch",
        default=None,
        help="cap where the micro-batch probe starts: N, or per rung 14M=128,125M=32 "
        "(default: the whole batch, halved on out-of-memory, as verify does)",
    )
    parser.add_argument("--compile", default="auto", choices=("auto", "on", "off"), help="auto: on CUDA only")
    parser.add_argument("--no-compile", action="store_true", help="same as --compile off")
    parser.add_argument(
        "--eager-seeds",
        default="",
        help="seeds to train without torch.compile (e.g. ttt, whose compile takes many minutes)",
    )
    parser.add_argument("--full-ce", action="store_true", help="also time the GPT seed with full-logits CE")
    parser.add_argument("--budget-s", type=float, default=None, help="wall-time budget for the rows")
    parser.add_argument("--row-timeout-s", type=float, default=None, help="stop any one row after this long")
    parser.add_argument(
        "--min-row-s",
        type=float,
        default=None,
        help="skip a row when less than this is left (default 20 on GPU, 0 on CPU)",
    )
    parser.add_argument("--json", type=Path, help="write all rows here (rewritten after every row)")
    parser.add_argument("--e2e-14m", action="store_true", help="then verify the GPT seed at 14M end to end")
    parser.add_argument("--e2e-only", action="store_true", help="only the end-to-end run (no table)")
    parser.add_argument("--e2e-rung", default="14M", help="the end-to-end run's rung (test: a smoke run)")
    parser.add_argument("--e2e-out", type=Path, help="its output folder (default var/bench-e2e-RUNG)")
    parser.add_argument("--e2e-progress", type=Path, help="its progress events, as JSON lines")
    parser.add_argument("--e2e-json", type=Path, help="its summary (phases, tokens/s, eval)")
    parser.add_argument(
        "--e2e-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a verify option for the end-to-end run, e.g. max_tokens=200000",
    )
    parser.add_argument("--data-dir", type=Path, help="data directory for the end-to-end run")
    parser.add_argument(
        "--summarize", nargs="+", type=Path, metavar="JSON", help="print saved results and exit"
    )
    args = parser.parse_args(argv)

    if args.summarize:
        for path in args.summarize:
            if not path.is_file():
                say(f"{path}: missing")
                continue
            doc = json.loads(path.read_text())
            if "wall_s" in doc:
                print_e2e(doc)
            else:
                print_tables(doc)
        return 0

    device = torch.device(args.device)
    on_cpu = device.type == "cpu"
    compile_ = {"on": True, "off": False, "auto": not on_cpu}[args.compile] and not args.no_compile
    if args.min_row_s is None:
        args.min_row_s = 0.0 if on_cpu else 20.0
    settings = Settings(
        device=device,
        seq=args.context or (128 if on_cpu else 2048),
        batch_seqs=args.batch_seqs or (2 if on_cpu else None),
        steps=args.steps,
        warmup=args.warmup if args.warmup is not None else (1 if on_cpu else 5),
        compile=compile_,
        max_micro=parse_micro(args.max_micro_batch),
        eager_seeds=frozenset(filter(None, args.eager_seeds.split(","))),
    )
    rc = 0
    if not args.e2e_only:
        doc = run_table(args, settings)
        rc = 0 if all("failure" not in r for rows in doc["rows"].values() for r in rows) else 1
    if args.e2e_14m or args.e2e_only:
        rc = max(
            rc,
            run_e2e(
                args.data_dir,
                device,
                args.e2e_rung,
                args.e2e_out,
                args.e2e_progress,
                args.e2e_json,
                parse_set(args.e2e_set),
            ),
        )
    return rc


if __name__ == "__main__":
    sys.exit(main())
