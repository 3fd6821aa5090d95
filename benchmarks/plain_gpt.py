"""The benchmark's reference: a plain nanoGPT (learned positions, pre-LayerNorm, GELU MLP, tied head,
full-logits cross-entropy), written without the GAU machinery, so the seeds can be compared with it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

VOCAB = 32000


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
