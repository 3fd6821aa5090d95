"""SwiGluMLP: the position-wise SwiGLU feed-forward network of the TTT block."""

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, gau_test


class SwiGluMLP(GAUBase):
    """Y = down_proj(silu(gate_proj X) * up_proj X) (Shazeer 2020), as in the Llama-style TTT backbone.

    The hidden width is `swiglu_hidden_ratio` x embed_dim rounded up to a multiple of
    `swiglu_multiple_of` (2.667 keeps the parameter count of a 4x plain MLP).
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, swiglu_hidden_ratio=2.667,
                 swiglu_multiple_of=64, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        hidden = int(embed_dim * swiglu_hidden_ratio)
        hidden = swiglu_multiple_of * ((hidden + swiglu_multiple_of - 1) // swiglu_multiple_of)
        self.gate_proj = nn.Linear(embed_dim, hidden, bias=False, **self.factory_kwargs)
        self.up_proj = nn.Linear(embed_dim, hidden, bias=False, **self.factory_kwargs)
        self.down_proj = nn.Linear(hidden, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        return self.down_proj(F.silu(self.gate_proj(X)) * self.up_proj(X))


@gau_test
def test_swiglu_mlp_shape(device=None, dtype=None):
    mlp = SwiGluMLP(48, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(2, 5, 48, device=device, dtype=dtype)
    Y, _ = mlp(X)
    assert Y.shape == X.shape and mlp.up_proj.out_features % 64 == 0
