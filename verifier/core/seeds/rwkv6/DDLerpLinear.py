"""DDLerpLinear: a linear map of Finch's data-dependent token shift ddlerp(x_t, x_{t-1}, mu_t)."""

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class DDLerpLinear(GAUBase):
    """Y = W(x_t + mu_t * (x_{t-1} - x_t)) with a per-token mix mu_t = Z['mu'] (Finch, Peng et al. 2024, ddlerp).

    The caller computes mu_t = mu + lora(lerp(x_t, x_{t-1}, mu_x)) once for all five projections and
    passes the difference Z['delta'] = x_{t-1} - x_t. W is dense, or a `LoRA` child when
    `low_rank_dim` is given (Finch's decay projection). `output_dim` and `low_rank_dim` are
    per-instance sizes the parent passes, not hyper-parameters.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, *, output_dim, low_rank_dim,
                 **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.low_rank = low_rank_dim is not None
        if not self.low_rank:
            self.linear = nn.Linear(embed_dim, output_dim, bias=False, **self.factory_kwargs)
        else:
            self.lora = LoRA(embed_dim=self.embed_dim, block_loc=self.block_loc, kwarg_all=self.kwarg_all,
                             output_dim=output_dim, low_rank_dim=low_rank_dim, groups=1,
                             **self.factory_kwargs, **self.kwarg_all)

    def _forward(self, X, mu, delta=None, **Z):
        if delta is None:
            delta = F.pad(X, (0, 0, 1, -1)) - X
        mixed = torch.addcmul(X, delta, mu)
        if not self.low_rank:
            return self.linear(mixed)
        Y, Z = self.lora(mixed, **Z)
        return Y, Z


CHILDREN_DECLARATIONS = [
    UnitDecl("LoRA", "Low-rank projection Y = tanh(X A) B.", ["X"], ["Y"]),
]


@gau_test
def test_ddlerp_linear_uses_the_given_mix(device=None, dtype=None):
    proj = DDLerpLinear(8, (0, 1), {}, device=device, dtype=dtype, output_dim=5, low_rank_dim=None)
    X = torch.randn(2, 6, 8, device=device, dtype=dtype)
    Y_self, _ = proj(X, mu=torch.zeros_like(X))
    assert torch.allclose(Y_self, proj.linear(X), atol=1e-6)  # mu = 0 keeps the current token
    Y_prev, _ = proj(X, mu=torch.ones_like(X))
    assert torch.allclose(Y_prev[:, 1:], proj.linear(X[:, :-1]), atol=1e-6)  # mu = 1 takes the previous one
    low_rank = DDLerpLinear(8, (0, 1), {}, device=device, dtype=dtype, output_dim=8, low_rank_dim=4)
    assert low_rank(X, mu=torch.rand_like(X))[0].shape == X.shape
