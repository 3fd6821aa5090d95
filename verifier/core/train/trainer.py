"""The training loop: AdamW, warmup + cosine, clipping, bf16 autocast on GPU, optional
torch.compile, chunked cross-entropy, fixed seeds, checkpoints, progress and the runtime monitor.

Kept in the spirit of nanoGPT: one loop, read top to bottom. Everything a resumed run needs
(weights, optimizer, step, RNG, monitor, curve, micro-batch) is in the checkpoint, and the batch of
step s depends only on (seed, s), so an interrupted run that resumes ends where an uninterrupted
one would.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..model import GenesysLM
from .autotune import BatchPlan, free_memory, is_oom, memory_cap, plan_batch, probe_micro_batch
from .checkpoint import load_checkpoint, save_checkpoint, set_rng_state
from .data import BatchOrder, PackedSequences
from .losses import HiddenStates, lm_loss
from .monitor import Failure, RuntimeMonitor
from .schedule import lr_at
from .throughput import flops_per_token, mfu, peak_flops, peak_memory_bytes, reset_peak_memory

Progress = Callable[[dict[str, Any]], None]


@dataclass
class TrainSettings:
    total_steps: int
    batch_seqs: int  # sequences per optimizer step
    seq_len: int
    lr: float
    micro_batch: int | None = None  # None: the largest that fits (probed)
    max_micro_batch: int | None = None  # cap for the probe (small on CPU: cache-friendly)
    warmup_frac: float = 0.02
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    seed: int = 42
    compile: bool = False
    compile_backend: str = "inductor"  # "eager" only traces (debugging; fast to start)
    bf16: bool = True  # autocast to bfloat16 (CUDA only)
    fused_adamw: bool = True  # one fused kernel per step (CPU too); False: the for-loop AdamW of before (benchmarks)
    chunked_ce: bool = True
    ce_chunk_bytes: int | None = None  # logits per chunk (float32 bytes); None: 2 GiB on GPU, 256 MiB on CPU
    checkpoint_every_steps: int | None = None
    checkpoint_every_s: float = 600.0
    memory_cap_bytes: int | None = None  # simulated out-of-memory (CPU tests)
    stop_after_step: int | None = None  # stop as if killed after this step (tests of resume)
    schedule_steps: int | None = None  # the lr schedule's horizon (None: total_steps); longer: a prefix run
    show_bar: bool | None = None  # tqdm bar; None: when stderr is a terminal


@dataclass
class TrainResult:
    total_steps: int
    steps_done: int = 0
    tokens_seen: int = 0
    loss_curve: list[dict[str, float]] = field(default_factory=list)
    tokens_per_s: float | None = None
    mfu: float | None = None
    flops_per_token: float | None = None
    micro_batch: int = 0
    grad_accum: int = 0
    oom_micro_batches: list[int] = field(default_factory=list)
    peak_memory_bytes: int = 0
    peak_memory_kind: str = ""
    train_time_s: float = 0.0
    resumed_from_step: int | None = None
    compiled: bool = False
    interrupted: bool = False
    failure: Failure | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def final_loss(self) -> float | None:
        """Mean training loss over the last 10 steps (less noisy than the last step)."""
        tail = [p["loss"] for p in self.loss_curve[-10:]]
        return float(np.mean(tail)) if tail else None


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float],
                   device: torch.device, fused: bool = True) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and embeddings only (not on norms, biases, scalars).

    Fused (one kernel over all parameters) on CPU as well as on CUDA: the same update as the for-loop
    implementation up to float rounding, with a fraction of its passes over the 32k-vocab embedding
    (benchmarks/bench_cpu_train.py). `fused=False` is the for-loop AdamW (on CPU; CUDA stays fused)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused or device.type == "cuda")


class Trainer:
    def __init__(self, model: GenesysLM, data: PackedSequences, settings: TrainSettings, device: torch.device,
                 checkpoint_path: Path | None = None, fingerprint: str = "", monitor: RuntimeMonitor | None = None,
                 progress: Progress | None = None):
        self.model, self.data, self.s, self.device = model, data, settings, device
        self.checkpoint_path, self.fingerprint = checkpoint_path, fingerprint
        self.monitor = monitor or RuntimeMonitor()
        self.progress = progress
        self.optimizer = make_optimizer(model, settings.lr, settings.weight_decay, settings.betas, device,
                                        fused=settings.fused_adamw)
        self.order = BatchOrder(len(data), settings.batch_seqs, settings.seed)
        self.autocast = device.type == "cuda" and settings.bf16
        self.body: nn.Module = HiddenStates(model)
        self.ce_chunk_bytes = settings.ce_chunk_bytes or (2**31 if device.type == "cuda" else 2**28)
        if device.type == "cuda":  # fp32 matmuls (outside autocast) on tensor cores
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

    # ---- one forward/backward ------------------------------------------------------------------
    def loss(self, ids: torch.Tensor, body: nn.Module | None = None) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            body = body if body is not None else self.body
            return lm_loss(self.model, ids, body, self.s.chunked_ce, self.ce_chunk_bytes)

    def forward_backward(self, ids: torch.Tensor, micro_batch: int) -> torch.Tensor:
        """Accumulate the gradient of the batch's mean loss, `micro_batch` sequences at a time."""
        total = torch.zeros((), device=self.device)
        for chunk in ids.split(micro_batch):
            with memory_cap(self.s.memory_cap_bytes):
                loss = self.loss(chunk) * (chunk.shape[0] / ids.shape[0])
            loss.backward()
            total += loss.detach()
        return total

    def _try_micro_batch(self, micro_batch: int) -> None:
        ids = torch.randint(0, self.model.config.vocab_size, (micro_batch, self.s.seq_len), device=self.device)
        try:
            self.forward_backward(ids, micro_batch)
        finally:
            self.optimizer.zero_grad(set_to_none=True)

    # ---- setup ---------------------------------------------------------------------------------
    def _plan(self, result: TrainResult, resumed: BatchPlan | None) -> BatchPlan:
        """The micro-batch: a resumed run's own (same sums in the same order), a fixed one, or the
        largest that fits. One forward and backward is tried either way, which is also where a
        design that torch.compile cannot handle falls back to eager."""
        if resumed is not None:
            plan = resumed
        elif self.s.micro_batch:
            micro = min(self.s.micro_batch, self.s.batch_seqs)
            plan = BatchPlan(micro, -(-self.s.batch_seqs // micro), self.s.batch_seqs, [])
        else:
            plan = plan_batch(self.s.batch_seqs, self.s.max_micro_batch)
        try:
            return probe_micro_batch(plan, self._try_micro_batch)
        except Exception as exc:
            if is_oom(exc) or not self.s.compile:
                raise
            # torch.compile could not handle the design: train it eagerly instead.
            result.warnings.append(f"torch.compile failed ({type(exc).__name__}: {str(exc)[:200]}); trained eagerly")
            result.compiled = False
            self.body = HiddenStates(self.model)
            return probe_micro_batch(plan, self._try_micro_batch)

    def _resume(self, state: dict[str, Any], result: TrainResult) -> tuple[int, float]:
        """Put the checkpointed run back: weights, optimizer, RNG, monitor, curve. Done after the
        FLOP count, so nothing that count touches (RNG, buffers) differs from the original run."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        extra = state["extra"]
        self.monitor.load_state_dict(extra["monitor"])
        result.loss_curve = list(extra["loss_curve"])
        result.tokens_seen = int(extra["tokens_seen"])
        result.resumed_from_step = int(state["step"])
        return int(state["step"]), float(extra["train_time_s"])

    def _save(self, step: int, plan: BatchPlan, result: TrainResult, train_time: float) -> None:
        if self.checkpoint_path is None:
            return
        extra = {"monitor": self.monitor.state_dict(), "loss_curve": result.loss_curve,
                 "tokens_seen": result.tokens_seen, "train_time_s": train_time,
                 "plan": {"micro_batch": plan.micro_batch, "grad_accum": plan.grad_accum,
                          "batch_seqs": plan.batch_seqs, "tried": plan.tried}}
        save_checkpoint(self.checkpoint_path, self.model, self.optimizer, step, self.fingerprint, extra)

    # ---- the loop ------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        s, device = self.s, self.device
        result = TrainResult(total_steps=s.total_steps, compiled=s.compile)
        self.model.train()
        reset_peak_memory(device)
        state = None
        if self.checkpoint_path is not None:
            state = load_checkpoint(self.checkpoint_path, self.fingerprint, map_location=device)
        start_step, prior_time = 0, 0.0
        if s.compile:
            self.body = torch.compile(HiddenStates(self.model), backend=s.compile_backend)  # type: ignore[assignment]
        try:
            # FLOPs are counted on the eager model (compiled graphs are opaque to the counter).
            eager = HiddenStates(self.model)
            result.flops_per_token = flops_per_token(lambda ids: self.loss(ids, eager), s.seq_len,
                                                     self.model.config.vocab_size, device)
            self.optimizer.zero_grad(set_to_none=True)
            plan = self._plan(result, BatchPlan(**state["extra"]["plan"]) if state is not None else None)
        except Exception as exc:
            result.failure = _exception_failure(exc, 0)
            return result
        if state is not None:
            start_step, prior_time = self._resume(state, result)
            del state
        result.micro_batch, result.grad_accum = plan.micro_batch, plan.grad_accum
        result.oom_micro_batches = list(plan.tried)
        peak = peak_flops(device)
        bar = _progress_bar(s, start_step)
        recent: deque[tuple[int, float]] = deque(maxlen=20)  # (tokens, seconds) of recent steps
        measured_tokens, measured_time = 0, 0.0
        session_start = time.perf_counter()
        last_save = time.perf_counter()
        step = start_step
        try:
            while step < s.total_steps:
                t0 = time.perf_counter()
                lr = lr_at(step, max(s.total_steps, s.schedule_steps or 0), s.lr, s.warmup_frac, s.min_lr_ratio)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                ids = self.data.get(self.order.indices(step))
                ids = (ids.pin_memory() if device.type == "cuda" else ids).to(device, non_blocking=True)
                try:
                    loss_t = self.forward_backward(ids, plan.micro_batch)
                except Exception as exc:
                    self.optimizer.zero_grad(set_to_none=True)
                    if is_oom(exc) and plan.micro_batch > 1:
                        free_memory()
                        plan = plan.halved()  # retry the same step with half the micro-batch
                        result.micro_batch, result.grad_accum = plan.micro_batch, plan.grad_accum
                        result.oom_micro_batches = list(plan.tried)
                        continue
                    result.failure = _exception_failure(exc, step)
                    break
                grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), s.grad_clip))
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                loss = float(loss_t)
                dt = time.perf_counter() - t0
                n_tokens = ids.numel()
                result.tokens_seen += n_tokens
                result.loss_curve.append({"step": step + 1, "tokens": result.tokens_seen, "loss": loss,
                                          "lr": lr, "grad_norm": grad_norm, "step_time_s": dt})
                step += 1
                result.steps_done = step
                failure = self.monitor.check(step, loss, grad_norm, dt)
                if step - start_step > 1 or s.total_steps - start_step <= 1:  # the first step compiles
                    measured_tokens += n_tokens
                    measured_time += dt
                recent.append((n_tokens, dt))
                tps = sum(t for t, _ in recent) / max(1e-9, sum(d for _, d in recent))
                self._report(step, loss, lr, grad_norm, tps, result, peak, recent, session_start, bar)
                if failure is not None:
                    result.failure = failure
                    break
                if s.stop_after_step is not None and step >= s.stop_after_step and step < s.total_steps:
                    result.interrupted = True
                    break
                due_steps = s.checkpoint_every_steps and step % s.checkpoint_every_steps == 0
                due_time = time.perf_counter() - last_save > s.checkpoint_every_s
                if (due_steps or due_time) and step < s.total_steps:
                    self._save(step, plan, result, prior_time + time.perf_counter() - session_start)
                    last_save = time.perf_counter()
        except KeyboardInterrupt:
            self._save(step, plan, result, prior_time + time.perf_counter() - session_start)
            result.interrupted = True
            result.failure = Failure("interrupted", f"interrupted after step {step}; rerun to resume", step)
        finally:
            if bar is not None:
                bar.close()
        result.train_time_s = prior_time + time.perf_counter() - session_start
        if measured_time > 0:
            result.tokens_per_s = measured_tokens / measured_time
            result.mfu = mfu(result.tokens_per_s, result.flops_per_token or 0.0, peak)
        result.peak_memory_bytes, result.peak_memory_kind = peak_memory_bytes(device)
        return result

    def _report(self, step: int, loss: float, lr: float, grad_norm: float, tps: float, result: TrainResult,
                peak: float | None, recent: deque, session_start: float, bar) -> None:
        step_time = sum(d for _, d in recent) / len(recent)
        event = {
            "event": "step", "step": step, "total_steps": self.s.total_steps, "loss": loss, "lr": lr,
            "grad_norm": grad_norm, "tokens": result.tokens_seen, "tokens_per_s": tps,
            "mfu": mfu(tps, result.flops_per_token or 0.0, peak), "eta_s": step_time * (self.s.total_steps - step),
            "elapsed_s": time.perf_counter() - session_start,
        }
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tps:,.0f}", refresh=False)
        if self.progress is not None:
            self.progress(event)


def _progress_bar(settings: TrainSettings, start_step: int):
    show = settings.show_bar if settings.show_bar is not None else sys.stderr.isatty()
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=settings.total_steps, initial=start_step, desc="train", unit="step", dynamic_ncols=True)


def _exception_failure(exc: BaseException, step: int) -> Failure:
    if is_oom(exc):
        return Failure("oom", str(exc)[:500], step)
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return Failure("runtime_error", f"{type(exc).__name__}: {exc}\n{''.join(tb[-6:])}"[:4000], step)


@dataclass
class Validation:
    """Held-out scores: mean next-token loss (nats) over the scored tokens, and their UTF-8 bytes."""

    loss: float
    tokens: int  # targets scored: every position of each sequence but the first
    bytes: int | None = None  # UTF-8 bytes of exactly those tokens, decoded (None: no tokenizer given)

    @property
    def bytes_per_token(self) -> float | None:
        return self.bytes / self.tokens if self.bytes and self.tokens else None

    @property
    def bpb(self) -> float | None:
        """Bits per byte: total nats / ln 2 / total bytes (tokenizer-independent)."""
        if not self.bytes or not self.tokens or not math.isfinite(self.loss):
            return None
        return self.loss * self.tokens / math.log(2) / self.bytes


def scored_bytes(tokenizer: Any, sequences: torch.Tensor) -> int:
    """UTF-8 bytes of the tokens a next-token loss scores in `sequences` (all but each row's first).

    Each row is decoded whole and with its first token alone; the difference is the text of the
    scored tokens, with the space that joins them to the first token (decoding a row alone drops
    a leading space) and without special tokens (BOS between documents counts 0 bytes)."""
    total = 0
    for row in sequences.tolist():
        whole = tokenizer.decode(row, skip_special_tokens=True)
        first = tokenizer.decode(row[:1], skip_special_tokens=True)
        total += len(whole.encode("utf-8")) - len(first.encode("utf-8"))
    return total


@torch.no_grad()
def validate(model: GenesysLM, val: PackedSequences, device: torch.device, tokenizer: Any = None,
             batch_size: int = 8, max_sequences: int | None = None, bf16: bool = True) -> Validation:
    """Mean next-token loss on the first `max_sequences` held-out sequences, and (given the
    tokenizer) the bytes of the tokens scored, for bits per byte."""
    was_training = model.training
    model.eval()
    n = len(val) if max_sequences is None else min(len(val), max_sequences)
    total, count, n_bytes = 0.0, 0, 0
    autocast = device.type == "cuda" and bf16
    for start in range(0, n, batch_size):
        ids = val.get(np.arange(start, min(n, start + batch_size)))
        if tokenizer is not None:
            n_bytes += scored_bytes(tokenizer, ids)
        ids = ids.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = lm_loss(model, ids)
        tokens = ids.shape[0] * (ids.shape[1] - 1)
        total += float(loss) * tokens
        count += tokens
    model.train(was_training)
    return Validation(loss=total / count if count else math.nan, tokens=count,
                      bytes=n_bytes if tokenizer is not None else None)


def validation_loss(model: GenesysLM, val: PackedSequences, device: torch.device, batch_size: int = 8,
                    max_sequences: int | None = None, bf16: bool = True) -> float:
    """Mean next-token loss on held-out sequences (exp of it is the validation perplexity)."""
    return validate(model, val, device, batch_size=batch_size, max_sequences=max_sequences, bf16=bf16).loss
