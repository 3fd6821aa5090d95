"""GatedMLP: the position-wise gated feed-forward network (SwiGLU)."""

import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, gau_test


class GatedMLP(GAUBase):
    """Y = W2 (silu(W_gate X) * W_up X).

    The hidden width is `mlp_hidden_ratio` x embed_dim (2.667 ~ 8/3 keeps the parameter count of a 4x plain
    MLP), rounded up to a multiple of `mlp_multiple_of` for efficient kernels.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, mlp_hidden_ratio=2.667,
                 mlp_multiple_of=64, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        hidden = int(embed_dim * mlp_hidden_ratio)
        hidden = mlp_multiple_of * ((hidden + mlp_multiple_of - 1) // mlp_multiple_of)
        self.fc1 = nn.Linear(embed_dim, 2 * hidden, bias=False, **self.factory_kwargs)
        self.fc2 = nn.Linear(hidden, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        gate, up = self.fc1(X).chunk(2, dim=-1)
        return self.fc2(F.silu(gate) * up)


@gau_test
def test_gated_mlp_shape(device=None, dtype=None):
    mlp = GatedMLP(48, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(2, 5, 48, device=device, dtype=dtype)
    Y, _ = mlp(X)
    assert Y.shape == X.shape
