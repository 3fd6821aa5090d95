"""Training throughput of every seed next to a plain compiled GPT, at the 14M, 31M and 125M rungs.

    python benchmarks/bench_gpu_throughput.py                      # on a GPU (H100: the paper's card)
    python benchmarks/bench_gpu_throughput.py --device cpu --steps 3   # smoke test of the script
    python benchmarks/bench_gpu_throughput.py --e2e-14m --data-dir DIR  # plus a full 14M verification

Each design is trained by the verification engine's own Trainer (the code path `verify` uses:
data loading, bf16 autocast, torch.compile, chunked cross-entropy, AdamW, clipping, the monitor)
on random tokens with the rung's batch (0.5M tokens, context 2,048). Seeds are sized by the
auto-tuner as in a real verification. The reference is a plain nanoGPT-style model written below
(LayerNorm, GELU MLP, full-logits cross-entropy, torch.compile, fused AdamW, bf16) at the rung's
reference shape, with its micro-batch found the same way (halved on out-of-memory).

FLOPs per token are counted (torch.utils.flop_counter) for every model the same way, so MFU is
comparable between rows; tokens/s are measured over `--steps` steps after `--warmup` steps.
Targets (GPT seed vs the plain reference): >= 1.5x at 14M, >= 1.1x at 125M.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

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
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
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


def bench_plain(d: int, n_block: int, seq: int, batch_seqs: int, device: torch.device, steps: int, warmup: int,
                compile_: bool) -> dict:
    torch.manual_seed(0)
    model = PlainGPT(d, n_block, seq).to(device)
    opt = make_optimizer(model, 1e-3, 0.1, (0.9, 0.95), device)
    autocast = device.type == "cuda"
    step_fn = torch.compile(model) if compile_ else model

    def loss_of(m, ids):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            return m(ids)

    ids1 = torch.randint(0, VOCAB, (1, seq), device=device)
    flops = count_flops(lambda: loss_of(model, ids1).backward()) / seq
    opt.zero_grad(set_to_none=True)

    def try_step(micro: int) -> None:
        ids = torch.randint(0, VOCAB, (micro, seq), device=device)
        loss_of(step_fn, ids).backward()
        opt.zero_grad(set_to_none=True)

    plan = probe_micro_batch(plan_batch(batch_seqs), try_step)
    times = []
    for i in range(warmup + steps):
        batch = torch.randint(0, VOCAB, (batch_seqs, seq), device=device)
        _sync(device)
        t0 = time.perf_counter()
        for chunk in batch.split(plan.micro_batch):
            (loss_of(step_fn, chunk) * (chunk.shape[0] / batch_seqs)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    embeddings = model.embedding.weight.numel() + model.positions.weight.numel()
    params = sum(p.numel() for p in model.parameters()) - embeddings
    return _row("plain GPT", d, n_block, params, plan.micro_batch, plan.grad_accum, batch_seqs * seq, times,
                flops, device)


# ---- a seed through the engine's Trainer ------------------------------------------------------------

def bench_seed(name: str, rung_name: str, seq: int, batch_seqs: int, device: torch.device, steps: int,
               warmup: int, compile_: bool, chunked: bool) -> dict:
    gab, config = load_gab(compose(load_seed(name)), name)
    rung = get_rung(rung_name)
    size = fit_to_rung(gab, config, rung, VOCAB)
    torch.manual_seed(0)
    model = build_model(gab, config, VOCAB, size.d_model, size.n_block, seq, device=device)
    tokens = np.random.default_rng(0).integers(0, VOCAB, (batch_seqs * (warmup + steps + 1) * seq,), dtype=np.uint16)
    settings = TrainSettings(total_steps=warmup + steps, batch_seqs=batch_seqs, seq_len=seq, lr=rung.lr,
                             compile=compile_, chunked_ce=chunked, show_bar=False, checkpoint_every_s=math.inf)
    result = Trainer(model, PackedSequences(tokens, seq), settings, device).run()
    if result.failure is not None:
        return {"model": name, "failure": result.failure.to_dict()}
    times = [p["step_time_s"] for p in result.loss_curve[warmup:]]
    row = _row(name, size.d_model, size.n_block, size.params, result.micro_batch, result.grad_accum,
               batch_seqs * seq, times, result.flops_per_token or 0.0, device)
    row["chunked_ce"], row["compiled"] = chunked, result.compiled
    return row


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _row(model: str, d: int, n: int, params: int, micro: int, accum: int, batch_tokens: int, times: list[float],
         flops: float, device: torch.device) -> dict:
    tps = batch_tokens / float(np.median(times)) if times else float("nan")
    peak = peak_flops(device)
    return {"model": model, "d_model": d, "n_block": n, "non_embedding_params": params, "micro_batch": micro,
            "grad_accum": accum, "tokens_per_s": tps, "flops_per_token": flops,
            "mfu": tps * flops / peak if peak else None, "step_s": float(np.median(times)) if times else None}


def _print(rows: list[dict], rung: str) -> None:
    plain = next((r for r in rows if r["model"] == "plain GPT"), None)
    print(f"\n== {rung} ==")
    print(f"{'model':22} {'shape':>9} {'params':>12} {'micro x acc':>11} {'tok/s':>12} {'MFU':>6} {'vs plain':>8}")
    for r in rows:
        if "failure" in r:
            print(f"{r['model']:22} FAILED {r['failure']['category']}: {r['failure']['message'][:80]}")
            continue
        label = r["model"] + ("" if r.get("chunked_ce", True) else " (full CE)")
        ratio = r["tokens_per_s"] / plain["tokens_per_s"] if plain and plain["tokens_per_s"] else float("nan")
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "-"
        shape = f"{r['d_model']}x{r['n_block']}"
        micro = f"{r['micro_batch']}x{r['grad_accum']}"
        print(f"{label:22} {shape:>9} {r['non_embedding_params']:>12,} {micro:>11} {r['tokens_per_s']:>12,.0f} "
              f"{mfu:>6} {ratio:>7.2f}x")
    gpt = [r for r in rows if r["model"] == "gpt" and "failure" not in r]
    if plain and gpt and rung in TARGETS:
        best = max(r["tokens_per_s"] for r in gpt) / plain["tokens_per_s"]
        verdict = "meets" if best >= TARGETS[rung] else "BELOW"
        print(f"GPT seed / plain GPT at {rung}: {best:.2f}x ({verdict} the {TARGETS[rung]}x target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rungs", default=None, help="comma-separated (default 14M,31M,125M; 14M on CPU)")
    parser.add_argument("--seeds", default=",".join(available_seeds()))
    parser.add_argument("--steps", type=int, default=20, help="measured steps")
    parser.add_argument("--warmup", type=int, default=None, help="unmeasured steps first (default 5; 1 on CPU)")
    parser.add_argument("--context", type=int, default=None, help="default 2048 (128 on CPU)")
    parser.add_argument("--batch-seqs", type=int, default=None, help="default: the rung's 0.5M tokens (2 on CPU)")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--full-ce", action="store_true", help="also time the GPT seed with full-logits CE")
    parser.add_argument("--json", type=Path, help="write all rows here")
    parser.add_argument("--e2e-14m", action="store_true", help="then verify the GPT seed at 14M end to end")
    parser.add_argument("--data-dir", type=Path, help="data directory for --e2e-14m")
    args = parser.parse_args()

    device = torch.device(args.device)
    on_cpu = device.type == "cpu"
    rungs = (args.rungs or ("14M" if on_cpu else "14M,31M,125M")).split(",")
    seq = args.context or (128 if on_cpu else 2048)
    warmup = args.warmup if args.warmup is not None else (1 if on_cpu else 5)
    compile_ = not args.no_compile and not on_cpu
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; context {seq}; {args.steps} measured steps after {warmup}; compile={compile_}")
    everything = {}
    for rung_name in rungs:
        rung = get_rung(rung_name)
        batch_seqs = args.batch_seqs or (2 if on_cpu else rung.batch_tokens // seq)
        rows = []
        try:
            rows.append(bench_plain(rung.d_model, rung.n_block, seq, batch_seqs, device, args.steps, warmup, compile_))
        except Exception as exc:  # noqa: BLE001 - report and go on with the seeds
            rows.append({"model": "plain GPT", "failure": {"category": "oom" if is_oom(exc) else "error",
                                                          "message": str(exc)}})
        for seed in args.seeds.split(","):
            rows.append(bench_seed(seed, rung_name, seq, batch_seqs, device, args.steps, warmup, compile_, True))
            if seed == "gpt" and args.full_ce:
                rows.append(bench_seed(seed, rung_name, seq, batch_seqs, device, args.steps, warmup, compile_, False))
            if device.type == "cuda":
                torch.cuda.empty_cache()
        _print(rows, rung_name)
        everything[rung_name] = rows
    if args.json:
        args.json.write_text(json.dumps({"device": name, "context": seq, "rows": everything}, indent=2))
    if args.e2e_14m:
        run_e2e_14m(args.data_dir, device)


def run_e2e_14m(data_dir: Path | None, device: torch.device) -> None:
    """The 14M rung's wall time end to end: tokenise (cached), size, train 700M tokens, evaluate."""
    from verifier.core.train import verify_design

    out = Path("var/bench-e2e-14m")
    start = time.perf_counter()
    report = verify_design(load_seed("gpt"), "14M", out, data_dir, device=str(device), show_bar=True)
    total = time.perf_counter() - start
    print(f"\n14M end to end: {report.status} in {total / 60:.1f} min "
          f"(phases: {', '.join(f'{k} {v:.0f}s' for k, v in report.wall_time_s.items())}); "
          f"{report.tokens_per_s or 0:,.0f} tok/s, MFU {100 * (report.mfu or 0):.1f}%, fitness {report.fitness}")


if __name__ == "__main__":
    main()
