"""LerpLinear: a linear map of Finch's static token shift lerp(x_t, x_{t-1}, mu)."""

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class LerpLinear(GAUBase):
    """Y = W(x_t + mu * (x_{t-1} - x_t)) with a learned per-channel mix mu (Finch, Peng et al. 2024, eq. lerp).

    x_{t-1} is zero at t = 0 and no position reads a later one. The caller may pass the difference
    Z['delta'] = x_{t-1} - x_t it already computed. W is a dense linear map, or a `LoRA` child when
    `low_rank_dim` is given (Finch's shared token-shift LoRA). `output_dim`, `low_rank_dim` and
    `groups` are per-instance sizes the parent passes, not hyper-parameters.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, *, output_dim, low_rank_dim,
                 groups, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.mu = nn.Parameter(torch.zeros(embed_dim, **self.factory_kwargs))
        self.low_rank = low_rank_dim is not None
        if not self.low_rank:
            self.linear = nn.Linear(embed_dim, output_dim, bias=False, **self.factory_kwargs)
        else:
            self.lora = LoRA(embed_dim=self.embed_dim, block_loc=self.block_loc, kwarg_all=self.kwarg_all,
                             output_dim=output_dim, low_rank_dim=low_rank_dim, groups=groups,
                             **self.factory_kwargs, **self.kwarg_all)
        self._init_weights()

    def _init_weights(self):
        """Finch's schedule: mu_i = 1 - (i / D)^(1 - layer / n_layer), less mixing in deeper layers."""
        layer, n_layer = self.block_loc
        channel = torch.arange(self.embed_dim, dtype=torch.float32) / self.embed_dim
        with torch.no_grad():
            self.mu.copy_(1.0 - channel.pow(1.0 - layer / n_layer))

    def _forward(self, X, delta=None, **Z):
        if delta is None:
            delta = F.pad(X, (0, 0, 1, -1)) - X
        mixed = torch.addcmul(X, delta, self.mu)
        if not self.low_rank:
            return self.linear(mixed)
        Y, Z = self.lora(mixed, **Z)
        return Y, Z


CHILDREN_DECLARATIONS = [
    UnitDecl("LoRA", "Low-rank projection Y = tanh(X A) B, optionally block-diagonal over output groups.",
             ["X"], ["Y"]),
]


@gau_test
def test_lerp_linear_is_causal_and_mixes_previous_token(device=None, dtype=None):
    lerp = LerpLinear(8, (0, 2), {}, device=device, dtype=dtype, output_dim=6, low_rank_dim=None, groups=1)
    X = torch.randn(1, 7, 8, device=device, dtype=dtype)
    Y, _ = lerp(X)
    X2 = X.clone()
    X2[:, 4:] = torch.randn_like(X2[:, 4:])
    Y2, _ = lerp(X2)
    assert torch.equal(Y[:, :4], Y2[:, :4])
    expected = lerp.linear(X[:, 0] * (1 - lerp.mu))  # t = 0: the previous token is zero
    assert torch.allclose(Y[:, 0], expected, atol=1e-6)
    low_rank = LerpLinear(8, (0, 2), {}, device=device, dtype=dtype, output_dim=10, low_rank_dim=3, groups=2)
    assert low_rank(X)[0].shape == (1, 7, 10)
