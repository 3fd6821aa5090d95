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
import os
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
import torch.nn.functional as F
from torch import nn

from verifier.core.gau import compose, load_gab
from verifier.core.seeds import available_seeds, load_seed
from verifier.core.train.autotune import build_model, fit_to_rung, is_oom, plan_batch, probe_micro_batch
from verifier.core.train.data import PackedSequences
from verifier.core.train.ladder import get_rung
from verifier.core.train.throughput import count_flops, peak_flops
from verifier.core.train.trainer import Trainer, TrainSettings, make_optimizer

VOCAB = 32000
TARGETS = {"14M": 1.5, "125M": 1.1}
PLAIN = "plain GPT"


def say(message: str = "") -> None:
    print(message, flush=True)


# ---- the plain reference ---------------------------------------------------------------------------


class PlainBlock(nn.Module):
    def __init__(self, d: int, n_head: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.fc, self.out = nn.Linear(d, 4 * d, bias=False), nn.Linear(4 * d, d, bias=False)
        self.n_head = n_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, L, 3, self.n_head, D // self.n_head).unbind(2)
        y = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        x = x + self.proj(y.transpose(1, 2).reshape(B, L, D))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class PlainGPT(nn.Module):
    """nanoGPT (learned positions, pre-LayerNorm, GELU MLP, tied head): the reference."""

    def __init__(self, d: int, n_block: int, seq: int, vocab: int = VOCAB):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d)
        self.positions = nn.Embedding(seq, d)
        self.blocks = nn.ModuleList(PlainBlock(d, max(1, d // 64)) for _ in range(n_block))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.embedding.weight
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids) + self.positions(torch.arange(ids.shape[1], device=ids.device))
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)).float(), ids[:, 1:].reshape(-1))


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


# ---- results ----------------------------------------------------------------------------------------


def verdicts(rows: dict[str, list[dict]]) -> dict[str, dict]:
    """GPT seed / plain GPT at the rungs with a target (best GPT row: chunked or full CE)."""
    out = {}
    for rung, target in TARGETS.items():
        ok = [r for r in rows.get(rung, []) if "failure" not in r and r.get("tokens_per_s")]
        plain = next((r for r in ok if r["model"] == PLAIN), None)
        gpt = [r for r in ok if r["model"] == "gpt"]
        if plain and gpt:
            ratio = max(r["tokens_per_s"] for r in gpt) / plain["tokens_per_s"]
            out[rung] = {"ratio": ratio, "target": target, "meets": ratio >= target}
    return out


def write_json(path: Path | None, doc: dict) -> None:
    """Atomically (a reader never sees half a file; a kill leaves the last complete one)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str))
    tmp.replace(path)


def row_line(r: dict, rows: list[dict]) -> str:
    label = r["model"] + ("" if r.get("chunked_ce", True) or r["model"] == PLAIN else " (full CE)")
    label += " (eager)" if r.get("eager") else ""
    if "failure" in r:
        return f"{label:22} FAILED {r['failure']['category']}: {r['failure']['message'][:80]}"
    plain = next((x for x in rows if x["model"] == PLAIN and "failure" not in x), None)
    ratio = r["tokens_per_s"] / plain["tokens_per_s"] if plain and plain.get("tokens_per_s") else float("nan")
    mfu = f"{100 * r['mfu']:.1f}%" if r.get("mfu") is not None else "-"
    compile_s = f"{r['compile_s']:.0f}s" if r.get("compile_s") is not None else "-"
    shape = f"{r['d_model']}x{r['n_block']}"
    micro = f"{r['micro_batch']}x{r['grad_accum']}"
    return (
        f"{label:22} {shape:>9} {r['non_embedding_params']:>12,} {micro:>11} {r['tokens_per_s']:>12,.0f} "
        f"{mfu:>6} {ratio:>7.2f}x {compile_s:>8} {r.get('row_s', 0):>6.0f}s"
    )


def print_tables(doc: dict) -> None:
    header = f"{'model':22} {'shape':>9} {'params':>12} {'micro x acc':>11} {'tok/s':>12} {'MFU':>6} {'vs plain':>8}"
    for rung, rows in doc.get("rows", {}).items():
        say(f"\n== {rung} ({doc.get('device')}, context {doc.get('context')}) ==")
        say(f"{header} {'compile':>8} {'row':>7}")
        for r in rows:
            say(row_line(r, rows))
    for rung, v in doc.get("verdicts", {}).items():
        verdict = "meets" if v["meets"] else "BELOW"
        say(f"GPT seed / plain GPT at {rung}: {v['ratio']:.2f}x ({verdict} the {v['target']}x target)")
    missing = [r for r in TARGETS if r not in doc.get("verdicts", {})]
    if missing:
        say(f"no verdict at {', '.join(missing)} (a row is missing or failed)")
    for skip in doc.get("skipped", []):
        say(f"skipped: {skip['label']} ({skip['reason']})")
    state = "complete" if doc.get("complete") else "INCOMPLETE (stopped early)"
    say(f"benchmark {state}: {doc.get('elapsed_s', 0):.0f} s")


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


# ---- the 14M rung end to end -----------------------------------------------------------------------


def run_e2e(
    data_dir: Path | None,
    device: torch.device,
    rung: str = "14M",
    out: Path | None = None,
    progress_path: Path | None = None,
    json_path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    every_s: float = 20.0,
) -> int:
    """A rung's wall time end to end, as `verify` runs it: tokenise (cached after the first run), size,
    train (700M tokens at 14M), validate, evaluate. Progress events (with `t`, seconds since the start)
    go to `progress_path` as they happen, so a run cut short still shows how far it got. SIGTERM ends
    the run like Ctrl-C (training checkpoints; the report says `interrupted`)."""
    from verifier.core.train import verify_design
    from verifier.core.train.checkpoint import CHECKPOINT_NAME, WEIGHTS_NAME

    out = Path(out or f"var/bench-e2e-{rung}")
    for stale in ("report.json", CHECKPOINT_NAME, WEIGHTS_NAME):  # a fresh run, never a resumed one
        (out / stale).unlink(missing_ok=True)
    sink = open(progress_path, "a", buffering=1) if progress_path else None  # noqa: SIM115
    start = time.perf_counter()
    state: dict[str, Any] = {"phases": {}, "last_step": None, "last_print": 0.0, "tokenised": False}

    def progress(event: dict[str, Any]) -> None:
        t = time.perf_counter() - start
        if sink is not None:
            sink.write(json.dumps({"t": round(t, 3), **event}, default=str) + "\n")
        if event.get("event") == "phase":
            state["phases"].setdefault(event["phase"], t)
            state["tokenised"] |= str(event.get("message", "")).startswith("tokenising")
            say(f"[e2e {t:6.0f}s] {event['phase']}: {event.get('message', '')}")
        elif event.get("event") == "step":
            if state["last_step"] is None:  # the loop began `elapsed_s` ago; before it: FLOPs, probe, compile
                state["loop_start"] = t - float(event["elapsed_s"])
            state["last_step"] = {**event, "t": t}
            if t - state["last_print"] >= every_s or event["step"] == event["total_steps"]:
                state["last_print"] = t
                say(
                    f"[e2e {t:6.0f}s] step {event['step']}/{event['total_steps']} loss {event['loss']:.3f} "
                    f"{event['tokens_per_s']:,.0f} tok/s eta {event['eta_s']:.0f}s"
                )

    previous = (
        signal.signal(signal.SIGTERM, _interrupt)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    report = None
    try:
        report = verify_design(
            load_seed("gpt"),
            rung,
            out,
            data_dir,
            progress=progress,
            device=str(device),
            show_bar=False,
            **(overrides or {}),
        )
    except KeyboardInterrupt:
        say("[e2e] interrupted outside training (no report)")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if sink is not None:
            sink.close()
    total = time.perf_counter() - start
    summary = e2e_summary(rung, report, state, total, out)
    write_json(json_path, summary)
    print_e2e(summary)
    return {"done": 0, "interrupted": 3}.get(summary["status"], 1)


_MAIN_PID = os.getpid()


def _interrupt(signum: int, frame: Any) -> None:
    if os.getpid() != _MAIN_PID:  # a forked worker (a pool of lm-eval or datasets) being shut down
        os._exit(128 + signum)
    raise KeyboardInterrupt


def e2e_summary(rung: str, report: Any, state: dict, total: float, out: Path) -> dict:
    phases = state["phases"]
    order = [p for p in ("data", "size", "train", "validate", "eval") if p in phases]
    from_events = {
        p: (phases[order[i + 1]] if i + 1 < len(order) else total) - phases[p] for i, p in enumerate(order)
    }
    last = state["last_step"]
    doc: dict[str, Any] = {
        "rung": rung,
        "status": report.status if report else "interrupted",
        "wall_s": total,
        "phases_s": dict(report.wall_time_s) if report else from_events,
        "phases_from_events_s": from_events,
        "tokenised": state["tokenised"],
        "report": str(out / "report.json") if report else None,
    }
    if doc["status"] == "interrupted" and order:
        doc["cut_in_phase"] = order[-1]  # its time in phases_s is only how long it ran before the cut
    if last:
        doc["train"] = {
            "steps_done": last["step"],
            "total_steps": last["total_steps"],
            "tokens_per_s_recent": last["tokens_per_s"],
            "mfu_recent": last["mfu"],
            "train_elapsed_s": last["elapsed_s"],
            "train_projected_s": last["elapsed_s"] + last["eta_s"],
            # FLOP count + micro-batch probe (where torch.compile compiles) before the first step
            "pre_loop_s": state["loop_start"] - phases["train"] if "train" in phases else None,
        }
    if report is not None:
        doc.update(
            tokens_per_s=report.tokens_per_s,
            mfu=report.mfu,
            fitness=report.fitness,
            val_loss=report.val_loss,
            failure=report.failure,
            warnings=report.warnings,
            shape=report.shape
            and {k: report.shape.get(k) for k in ("d_model", "n_block", "non_embedding_params")},
            micro_batch=(report.config.get("train") or {}).get("micro_batch"),
            eval={
                t: {k: v for k, v in row.items() if k in ("acc", "acc_norm", "perplexity", "samples")}
                for t, row in (report.eval or {}).items()
            },
            versions=report.versions,
            device=report.device,
        )
    return doc


def print_e2e(doc: dict) -> None:
    phases = ", ".join(f"{k} {v:.0f}s" for k, v in (doc.get("phases_s") or {}).items())
    cut = f"; cut during {doc['cut_in_phase']}" if doc.get("cut_in_phase") else ""
    say(f"\n{doc['rung']} end to end: {doc['status']} in {doc['wall_s'] / 60:.1f} min ({phases}{cut})")
    if doc.get("train"):
        t = doc["train"]
        say(
            f"  train: {t['steps_done']}/{t['total_steps']} steps, {t['tokens_per_s_recent']:,.0f} tok/s recent, "
            f"train phase projected {t['train_projected_s']:.0f}s, of it before the first step "
            f"(FLOP count, probe, compile) {t.get('pre_loop_s') or 0:.0f}s"
        )
    if doc.get("tokens_per_s"):
        mfu = f"{100 * doc['mfu']:.1f}%" if doc.get("mfu") is not None else "-"
        say(
            f"  {doc['tokens_per_s']:,.0f} tok/s, MFU {mfu}, val loss {doc.get('val_loss')}, "
            f"fitness {doc.get('fitness')}, micro-batch {doc.get('micro_batch')}, tokenised here: {doc['tokenised']}"
        )
    for task, row in (doc.get("eval") or {}).items():
        say(f"  {task}: {row}")
    if doc.get("failure"):
        say(f"  failure: {doc['failure']}")
    for warning in doc.get("warnings") or []:
        say(f"  warning: {warning}")


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
