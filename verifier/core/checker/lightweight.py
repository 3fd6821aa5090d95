"""A FLOP counter and an AdamW that import nothing beyond torch's core.

torch's own `FlopCounterMode` and `torch.optim.AdamW` pull in the compiler stack (about 800
modules, several seconds) on first use; the sandboxed child would pay that on every check.
Both here do the same job for what the checker needs: matmul-class FLOPs of a training step, and
a plain AdamW update.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.utils._python_dispatch import TorchDispatchMode


def _numel(shape) -> int:
    return math.prod(int(s) for s in shape)


def _matmul_flops(name: str, args: tuple, out) -> int:
    if name in ("mm", "addmm"):
        a, b = (args[0], args[1]) if name == "mm" else (args[1], args[2])
        return 2 * a.shape[0] * a.shape[1] * b.shape[1]
    if name in ("bmm", "baddbmm"):
        a, b = (args[0], args[1]) if name == "bmm" else (args[1], args[2])
        return 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]
    return 0


def _conv_flops(name: str, args: tuple, out) -> int:
    if name == "convolution":
        weight = args[1]
        result = out[0] if isinstance(out, (tuple, list)) else out
        return 2 * result.numel() * _numel(weight.shape[1:])
    if name == "convolution_backward":
        grad_out, weight, mask = args[0], args[2], args[-1]
        per_pass = 2 * grad_out.numel() * _numel(weight.shape[1:])
        return per_pass * sum(1 for m in list(mask)[:2] if m)
    return 0


def _attention_flops(name: str, args: tuple) -> int:
    """Fused attention: QK^T and PV (2 matmuls) forward, 4 matmuls backward."""
    if not name.startswith("_scaled_dot_product"):
        return 0
    backward = "backward" in name
    q, k = (args[1], args[2]) if backward else (args[0], args[1])
    if q.dim() != 4:
        return 0
    b, h, lq, d = q.shape
    lk = k.shape[2]
    return (8 if backward else 4) * b * h * lq * lk * d


class FlopCounter(TorchDispatchMode):
    """Counts matmul, convolution and fused-attention FLOPs of whatever runs under it."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # else torch wraps the handler with its compiler, importing it (seconds)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        try:
            self.total += (
                _matmul_flops(name, args, out) + _conv_flops(name, args, out) + _attention_flops(name, args)
            )
        except (AttributeError, IndexError, TypeError):
            pass
        return out


class AdamW:
    """Decoupled-weight-decay Adam, the optimizer of the reference runs."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float,
        betas=(0.9, 0.95),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.state: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.steps = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.steps, 1 - b2**self.steps
        for p in self.params:
            if p.grad is None:
                continue
            m, v = self.state.setdefault(id(p), (torch.zeros_like(p), torch.zeros_like(p)))
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            if self.weight_decay:
                p.mul_(1 - self.lr * self.weight_decay)
            p.addcdiv_(m / c1, (v / c2).sqrt_().add_(self.eps), value=-self.lr)
