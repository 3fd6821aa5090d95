"""RetNetMLP: the position-wise feed-forward network of RetNet."""

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, gau_test


class RetNetMLP(GAUBase):
    """FFN(X) = gelu(X W1) W2 (Sun et al., 2023, Eq. 9), hidden width `retnet_ffn_ratio` x embed_dim.

    RetNet gives retention 8 d^2 parameters (value and gate are 2d wide) and the FFN 4 d^2 (ratio 2),
    so a block has the 12 d^2 of a Transformer block.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, retnet_ffn_ratio=2.0,
                 **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        hidden = max(1, round(embed_dim * retnet_ffn_ratio))
        self.fc1 = nn.Linear(embed_dim, hidden, bias=False, **self.factory_kwargs)
        self.fc2 = nn.Linear(hidden, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        return self.fc2(F.gelu(self.fc1(X)))


@gau_test
def test_retnet_mlp_shape(device=None, dtype=None):
    mlp = RetNetMLP(48, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(2, 5, 48, device=device, dtype=dtype)
    Y, _ = mlp(X)
    assert Y.shape == X.shape
    assert mlp.fc1.out_features == 96
