"""The language model around a block: embedding -> n_block GABs threading Z -> norm -> tied head.

The block (GAB) does its own residuals and norms; the wrapper adds none. `forward` returns an
object with `.loss` and `.logits` (and tuple access), which is what Hugging Face code expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# Output projections whose init is scaled down with depth (GPT-2 / reference implementation).
SCALED_INIT_SUFFIXES = ("out_proj.weight", "o_proj.weight", "c_proj.weight", "fc2.weight", "down_proj.weight")


@dataclass
class LMConfig:
    vocab_size: int = 32000
    d_model: int = 128
    n_block: int = 6
    context_length: int = 2048
    init_std: float = 0.02
    norm_eps: float = 1e-5
    pad_vocab_multiple: int = 8
    gab_config: dict[str, Any] = field(default_factory=dict)

    @property
    def padded_vocab_size(self) -> int:
        m = self.pad_vocab_multiple
        return ((self.vocab_size + m - 1) // m) * m


@dataclass
class LMOutput:
    loss: torch.Tensor | None
    logits: torch.Tensor

    def __getitem__(self, i: int):
        return (self.loss, self.logits)[i] if self.loss is not None else (self.logits,)[i]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5, device=None, dtype=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf * self.weight.float()).to(x.dtype)


class GenesysLM(nn.Module):
    """A causal LM whose blocks are instances of one GAB class."""

    def __init__(self, config: LMConfig, gab_cls: type, device=None, dtype=None):
        super().__init__()
        self.config = config
        factory = {"device": device, "dtype": dtype}
        self.embedding = nn.Embedding(config.padded_vocab_size, config.d_model, **factory)
        self.blocks = nn.ModuleList(
            gab_cls(config.d_model, (i, config.n_block), **factory, **config.gab_config)
            for i in range(config.n_block)
        )
        self.norm_out = RMSNorm(config.d_model, eps=config.norm_eps, **factory)
        self.lm_head = nn.Linear(config.d_model, config.padded_vocab_size, bias=False, **factory)
        self.lm_head.weight = self.embedding.weight
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Normal(0, std) for linear and embedding weights, output projections scaled by
        1/sqrt(n_block); then any unit's own `_init_weights()` for what it needs (decays, gates)."""
        std = self.config.init_std
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=std)
        for name, param in self.named_parameters():
            if name.endswith(SCALED_INIT_SUFFIXES):
                with torch.no_grad():
                    param.mul_(1.0 / math.sqrt(self.config.n_block))
        for module in self.modules():
            hook = getattr(module, "_init_weights", None)
            if callable(hook) and module is not self:
                hook()

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; the tied embedding/head counted once, or not at all if non_embedding."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= self.embedding.weight.numel()
        return total

    def hidden_states(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The input of the LM head; trainers with a chunked loss apply the head themselves."""
        X = self.embedding(input_ids)
        Z: dict[str, Any] = {}
        for block in self.blocks:
            X, Z = block(X, **Z)
        return self.norm_out(X)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None, **_: Any) -> LMOutput:
        logits = self.lm_head(self.hidden_states(input_ids))
        logits = logits[..., : self.config.vocab_size]
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)).float(),
                labels[:, 1:].reshape(-1),
                ignore_index=-100,
            )
        return LMOutput(loss=loss, logits=logits)
