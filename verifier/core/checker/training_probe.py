"""The effectiveness stages inside the sandbox: a short training run on real text whose loss must
fall, and the figures a design is compared on against the GPT seed (time, FLOPs, memory).

Wall time on a loaded two-core machine is noisy, so steps are timed in CPU time (unaffected by
other processes taking turns) and each is paired with a fixed calibration workload built by the
runner before any design code ran; the compared figure is the median step CPU time in units of
the median calibration CPU time, which also cancels differences in CPU speed. Wall time is
reported too.
"""

from __future__ import annotations

import resource
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F

from .categories import ERROR, FORWARD_ERROR, NAN_INF, NOT_LEARNING
from .lightweight import AdamW, FlopCounter
from .runtime_checks import RuntimeChecks


class Calibration:
    """A fixed transformer-like block (norm, attention, MLP) forward and backward on the reference
    shape: the yardstick for step times. Its mix of small and large ops resembles a design's, so
    machine load slows both alike."""

    def __init__(self, d_model: int, batch: int, length: int, seed: int):
        gen = torch.Generator().manual_seed(seed)

        def weight(*shape: int) -> torch.Tensor:
            return (torch.randn(*shape, generator=gen) * 0.02).requires_grad_()

        self.heads = max(1, d_model // 64)
        self.x = torch.randn(batch, length, d_model, generator=gen)
        self.weights = [
            weight(d_model, 3 * d_model),
            weight(d_model, d_model),
            weight(d_model, 4 * d_model),
            weight(4 * d_model, d_model),
        ]

    @staticmethod
    def _norm(x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)

    def run(self) -> float:
        """CPU seconds of one forward and backward."""
        start = time.thread_time()
        w_qkv, w_o, w_1, w_2 = self.weights
        B, L, D = self.x.shape
        q, k, v = (self._norm(self.x) @ w_qkv).view(B, L, 3, self.heads, D // self.heads).unbind(2)
        a = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        h = self.x + a.transpose(1, 2).reshape(B, L, D) @ w_o
        y = h + F.gelu(self._norm(h) @ w_1) @ w_2
        y.square().mean().backward()
        for w in self.weights:
            w.grad = None
        return time.thread_time() - start


def train(checks: RuntimeChecks, calibration: Calibration) -> bool:
    """A few tens of AdamW steps on byte-level real text: the loss must fall and stay finite."""
    cfg = checks.cfg
    assert checks.model is not None
    model = checks.model.train()
    opt = AdamW(model.parameters(), lr=cfg.learning_rate)
    losses: list[float] = []
    step_times: list[float] = []
    step_cpu: list[float] = []
    calib_times: list[float] = []
    grad_norms: list[float] = []
    for step in range(cfg.train_steps):
        ids = checks.batch(cfg.batch_size)
        calib_times.append(calibration.run())
        start, start_cpu = time.perf_counter(), time.thread_time()
        try:
            loss = model(ids, labels=ids).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
            opt.step()
        except Exception as exc:
            checks.exception(exc, FORWARD_ERROR, "train")
            return False
        step_times.append(time.perf_counter() - start)
        step_cpu.append(time.thread_time() - start_cpu)
        value = float(loss)
        losses.append(value)
        grad_norms.append(norm)
        if not torch.isfinite(loss) or value > cfg.max_loss:
            checks.finding(NAN_INF, ERROR, f"training diverged: loss {value:.4g} at step {step}", "train")
            return False
        if norm != norm or norm > cfg.max_grad_norm:
            checks.finding(NAN_INF, ERROR, f"exploding gradient: norm {norm:.4g} at step {step}", "train")
            return False
    skip = min(cfg.warmup_steps_excluded_from_timing, max(0, len(step_times) - 3))
    step_median = statistics.median(step_cpu[skip:])
    calib = statistics.median(calib_times[skip:])
    window = max(1, min(3, len(losses) // 4))
    first, last = statistics.fmean(losses[:window]), statistics.fmean(losses[-window:])
    checks.figure(
        loss_first=first,
        loss_last=last,
        losses=[round(x, 4) for x in losses],
        grad_norm_max=max(grad_norms),
        step_seconds=statistics.median(step_times[skip:]),
        step_cpu_seconds=step_median,
        calibration_cpu_seconds=calib,
        time_units=step_median / max(calib, 1e-9),
    )
    if min(losses) <= 0:
        checks.finding(
            NOT_LEARNING,
            ERROR,
            f"the loss reached {min(losses):.4g} <= 0: cross-entropy cannot, so the loss is computed wrongly",
            "train",
        )
        return False
    if last > first - cfg.min_loss_drop:
        checks.finding(
            NOT_LEARNING,
            ERROR,
            f"the loss does not fall: {first:.3f} over the first steps, {last:.3f} "
            f"over the last of {cfg.train_steps} steps on real text",
            "train",
        )
        return False
    return True


def performance(checks: RuntimeChecks) -> bool:
    """FLOPs of one training step (matmul-class ops) and its memory: parameters, gradients and AdamW
    state plus the bytes autograd saves for backward (exact, unlike an RSS reading on CPU)."""
    cfg = checks.cfg
    assert checks.model is not None
    model = checks.model.train()
    ids = checks.batch(cfg.batch_size)
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            storage = t.untyped_storage()
        except (RuntimeError, NotImplementedError):
            return t
        key = storage.data_ptr()
        if key not in param_storages and key not in saved:
            saved[key] = storage.nbytes()
        return t

    counter = FlopCounter()
    try:
        model.zero_grad(set_to_none=True)
        with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = model(ids, labels=ids).loss
            loss.backward()
    except Exception as exc:
        checks.exception(exc, FORWARD_ERROR, "performance")
        return False
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    activation_bytes = sum(saved.values())
    figures: dict[str, Any] = {
        "flops_per_step": int(counter.total),
        "activation_bytes": activation_bytes,
        "memory_bytes": 4 * param_bytes + activation_bytes,  # weights, grads, two AdamW moments, activations
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    model.zero_grad(set_to_none=True)
    checks.figure(**figures)
    return True
