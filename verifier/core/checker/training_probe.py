"""The effectiveness stages inside the sandbox: a short training run on real text whose loss must
fall, and the figures a design is compared on against the GPT seed (time, FLOPs, memory).

Time on a loaded two-core machine is noisy, so each training step is paired with a fixed
calibration workload built by the runner before any design code ran; the compared figure is the
median step time in units of the median calibration time, which cancels most of the load.
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
    """A fixed MLP forward/backward on the reference shape: the yardstick for step times."""

    def __init__(self, d_model: int, tokens: int, seed: int):
        gen = torch.Generator().manual_seed(seed)
        self.x = torch.randn(tokens, d_model, generator=gen)
        self.w1 = (torch.randn(d_model, 4 * d_model, generator=gen) * 0.02).requires_grad_()
        self.w2 = (torch.randn(4 * d_model, d_model, generator=gen) * 0.02).requires_grad_()

    def run(self) -> float:
        start = time.perf_counter()
        y = F.gelu(self.x @ self.w1) @ self.w2
        y.square().mean().backward()
        self.w1.grad = self.w2.grad = None
        return time.perf_counter() - start


def train(checks: RuntimeChecks, calibration: Calibration) -> bool:
    """A few tens of AdamW steps on byte-level real text: the loss must fall and stay finite."""
    cfg = checks.cfg
    assert checks.model is not None
    model = checks.model.train()
    opt = AdamW(model.parameters(), lr=cfg.learning_rate)
    losses: list[float] = []
    step_times: list[float] = []
    calib_times: list[float] = []
    grad_norms: list[float] = []
    for step in range(cfg.train_steps):
        ids = checks.batch(cfg.batch_size)
        calib_times.append(calibration.run())
        start = time.perf_counter()
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
    step = statistics.median(step_times[skip:])
    calib = statistics.median(calib_times[skip:])
    window = max(1, min(3, len(losses) // 4))
    first, last = statistics.fmean(losses[:window]), statistics.fmean(losses[-window:])
    checks.figure(loss_first=first, loss_last=last, losses=[round(x, 4) for x in losses],
                  grad_norm_max=max(grad_norms), step_seconds=step, calibration_seconds=calib,
                  time_units=step / calib)
    if min(losses) <= 0:
        checks.finding(NOT_LEARNING, ERROR, f"the loss reached {min(losses):.4g} <= 0: cross-entropy cannot, so the "
                       "loss is computed wrongly", "train")
        return False
    if last > first - cfg.min_loss_drop:
        checks.finding(NOT_LEARNING, ERROR, f"the loss does not fall: {first:.3f} over the first steps, {last:.3f} "
                       f"over the last of {cfg.train_steps} steps on real text", "train")
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
