"""RetNet: the retentive-network block, pre-norm multi-scale retention then a feed-forward network."""

import torch

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class RetNet(GAUBase):
    """Pre-norm RetNet block (Sun et al., 2023, Eq. 9).

    H = X + MultiScaleRetention(RMSNorm(X)); Y = H + RetNetMLP(RMSNorm(H)). The paper normalises with
    LayerNorm; RMSNorm here keeps the seeds' norms alike (and shared as one unit).
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm_retention = RMSNorm(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                      kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self.retention = MultiScaleRetention(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                             kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self.norm_mlp = RMSNorm(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self.mlp = RetNetMLP(embed_dim=self.embed_dim, block_loc=self.block_loc,
                             kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)

    def _forward(self, X, **Z):
        H, Z = self.norm_retention(X, **Z)
        H, Z = self.retention(H, **Z)
        X = X + H
        H, Z = self.norm_mlp(X, **Z)
        H, Z = self.mlp(H, **Z)
        return X + H, Z


CHILDREN_DECLARATIONS = [
    UnitDecl("MultiScaleRetention", "Causal multi-scale retention with per-head decays and a swish gate.",
             ["X"], ["Y"]),
    UnitDecl("RetNetMLP", "Position-wise feed-forward network.", ["X"], ["Y"]),
    UnitDecl("RMSNorm", "Root-mean-square normalisation over the feature axis.", ["X"], ["Y"]),
]


@gau_test
def test_retnet_block_shape_and_grad(device=None, dtype=None):
    block = RetNet(64, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(2, 20, 64, device=device, dtype=dtype, requires_grad=True)
    Y, _ = block(X)
    assert Y.shape == X.shape
    Y.sum().backward()
    assert torch.isfinite(X.grad).all()
