"""transformers.activations' ACT2FN: activation name -> a fresh nn.Module on each lookup."""

from __future__ import annotations

import torch
from torch import nn


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ReLUSquared(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x).square()


class _Factory(dict):
    """Like transformers' ClassInstantier: `ACT2FN["gelu"]` builds a new module each time."""

    def __getitem__(self, key):
        cls, kwargs = super().__getitem__(key)
        return cls(**kwargs)

    def get(self, key, default=None):
        if key not in self:
            return default
        return self[key]


ACT2FN = _Factory(
    {
        "gelu": (nn.GELU, {}),
        "gelu_new": (nn.GELU, {"approximate": "tanh"}),
        "gelu_fast": (nn.GELU, {"approximate": "tanh"}),
        "gelu_pytorch_tanh": (nn.GELU, {"approximate": "tanh"}),
        "quick_gelu": (QuickGELU, {}),
        "relu": (nn.ReLU, {}),
        "relu2": (ReLUSquared, {}),
        "relu6": (nn.ReLU6, {}),
        "leaky_relu": (nn.LeakyReLU, {}),
        "elu": (nn.ELU, {}),
        "selu": (nn.SELU, {}),
        "sigmoid": (nn.Sigmoid, {}),
        "silu": (nn.SiLU, {}),
        "swish": (nn.SiLU, {}),
        "tanh": (nn.Tanh, {}),
        "mish": (nn.Mish, {}),
        "softplus": (nn.Softplus, {}),
        "linear": (nn.Identity, {}),
        "identity": (nn.Identity, {}),
    }
)


def get_activation(name: str) -> nn.Module:
    if name not in ACT2FN:
        raise KeyError(f"activation {name!r} not found; known: {', '.join(sorted(ACT2FN))}")
    return ACT2FN[name]


__all__ = ["ACT2FN", "get_activation"]
