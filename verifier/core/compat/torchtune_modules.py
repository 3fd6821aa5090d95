"""torchtune.modules' RMSNorm and RotaryPositionalEmbeddings, with torchtune's signatures and maths.

RMSNorm(dim, eps=1e-6) scales by a learned `scale`; RotaryPositionalEmbeddings(dim, max_seq_len=4096,
base=10000) rotates interleaved feature pairs of a (batch, seq, heads, head_dim) tensor, optionally at
given positions `input_pos`.
"""

from __future__ import annotations

import torch
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.normalized_shape = (dim,)
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return normed.type_as(x) * self.scale


class RotaryPositionalEmbeddings(nn.Module):
    theta: torch.Tensor
    cache: torch.Tensor

    def __init__(self, dim: int, max_seq_len: int = 4096, base: int = 10_000) -> None:
        super().__init__()
        self.dim = dim
        self.base = base
        self.max_seq_len = max_seq_len
        self.rope_init()

    def rope_init(self) -> None:
        theta = 1.0 / (self.base ** (torch.arange(0, self.dim, 2)[: self.dim // 2].float() / self.dim))
        self.register_buffer("theta", theta, persistent=False)
        self.build_rope_cache(self.max_seq_len)

    def reset_parameters(self) -> None:
        self.rope_init()

    def build_rope_cache(self, max_seq_len: int = 4096) -> None:
        positions = torch.arange(max_seq_len, dtype=self.theta.dtype, device=self.theta.device)
        angles = torch.einsum("i,j->ij", positions, self.theta).float()
        cache = torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)  # (seq, dim/2, 2)
        self.register_buffer("cache", cache, persistent=False)

    def forward(self, x: torch.Tensor, *, input_pos: torch.Tensor | None = None) -> torch.Tensor:
        seq_len = x.size(1)
        if input_pos is None and seq_len > self.cache.size(0):
            self.build_rope_cache(seq_len)
        rope = self.cache[:seq_len] if input_pos is None else self.cache[input_pos]
        pairs = x.float().reshape(*x.shape[:-1], -1, 2)  # (b, s, h, d/2, 2)
        rope = rope.view(-1, pairs.size(1), 1, pairs.size(3), 2)  # broadcast over batch and heads
        cos, sin = rope[..., 0], rope[..., 1]
        even, odd = pairs[..., 0], pairs[..., 1]
        out = torch.stack([even * cos - odd * sin, odd * cos + even * sin], dim=-1)
        return out.flatten(3).type_as(x)


__all__ = ["RMSNorm", "RotaryPositionalEmbeddings"]
