"""RMSNorm: root-mean-square normalisation over the feature axis."""

import torch
from torch import nn

from verifier.core.gau.base import GAUBase, gau_test


class RMSNorm(GAUBase):
    """Y = X / sqrt(mean(X^2) + eps) * weight, computed in float32 for stability (Zhang & Sennrich, 2019)."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, norm_eps=1e-5, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.weight = nn.Parameter(torch.ones(embed_dim, **self.factory_kwargs))
        self.variance_epsilon = norm_eps

    def _forward(self, X, **Z):
        Xf = X.float()
        Xf = Xf * torch.rsqrt(Xf.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return (self.weight.float() * Xf).to(X.dtype)


@gau_test
def test_rmsnorm_unit_scale(device=None, dtype=None):
    norm = RMSNorm(16, (0, 1), {}, device=device, dtype=dtype)
    Y, _ = norm(torch.randn(3, 4, 16, device=device, dtype=dtype) * 7)
    assert torch.allclose(Y.float().pow(2).mean(-1), torch.ones(3, 4), atol=1e-3)
