"""RWKV6FeedForward: Finch channel mixing, a token-shifted squared-ReLU MLP with a receptance gate."""

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class RWKV6FeedForward(GAUBase):
    """Y = sigmoid(r_t) * down_proj(relu(k_t)^2) (Peng et al. 2024, sec. 4, channel mixing).

    k_t and r_t are `LerpLinear` maps of lerp(x_t, x_{t-1}, mu); the hidden width is
    `rwkv_ffn_ratio` x embed_dim rounded down to a multiple of 32, as in Finch (3.5x).
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, rwkv_ffn_ratio=3.5, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        hidden = max(32, int(embed_dim * rwkv_ffn_ratio) // 32 * 32)
        child = {"embed_dim": self.embed_dim, "block_loc": self.block_loc, "kwarg_all": self.kwarg_all}
        self.key_proj = LerpLinear(**child, output_dim=hidden, low_rank_dim=None, groups=1,
                                   **self.factory_kwargs, **self.kwarg_all)
        self.receptance_proj = LerpLinear(**child, output_dim=embed_dim, low_rank_dim=None, groups=1,
                                          **self.factory_kwargs, **self.kwarg_all)
        self.down_proj = nn.Linear(hidden, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        delta = F.pad(X, (0, 0, 1, -1)) - X  # x_{t-1} - x_t, zero before the first token
        key, _ = self.key_proj(X, **{**Z, "delta": delta})
        receptance, _ = self.receptance_proj(X, **{**Z, "delta": delta})
        return torch.sigmoid(receptance) * self.down_proj(F.relu(key).square())


CHILDREN_DECLARATIONS = [
    UnitDecl("LerpLinear", "Linear map of the static token shift x_t + mu (x_{t-1} - x_t).", ["X", "delta"], ["Y"]),
]


@gau_test
def test_rwkv6_feed_forward_shape_and_causality(device=None, dtype=None):
    ffn = RWKV6FeedForward(32, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(2, 9, 32, device=device, dtype=dtype)
    Y, _ = ffn(X)
    X2 = X.clone()
    X2[:, 6:] = torch.randn_like(X2[:, 6:])
    Y2, _ = ffn(X2)
    assert Y.shape == X.shape and torch.equal(Y[:, :6], Y2[:, :6])
