"""Mamba2: the attention-free block of the Mamba-2 seed, two pre-norm state-space mixers."""

import torch

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class Mamba2(GAUBase):
    """Two pre-norm Mamba-2 mixers with residuals (Dao & Gu, 2024).

    H = X + Mamba2Layer(RMSNorm(X)); Y = H + Mamba2Layer(RMSNorm(H)). Mamba-2 models have no MLP;
    stacking two mixers per block gives about the parameters of one Transformer block (attention +
    MLP), so a Mamba2 block and a GPT2 block are compared at the same size and depth.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm1 = RMSNorm(embed_dim=self.embed_dim, block_loc=self.block_loc,
                             kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self.mixer1 = Mamba2Layer(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                  kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self.norm2 = RMSNorm(embed_dim=self.embed_dim, block_loc=self.block_loc,
                             kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self.mixer2 = Mamba2Layer(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                  kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)

    def _forward(self, X, **Z):
        H, Z = self.norm1(X, **Z)
        H, Z = self.mixer1(H, **Z)
        X = X + H
        H, Z = self.norm2(X, **Z)
        H, Z = self.mixer2(H, **Z)
        return X + H, Z


CHILDREN_DECLARATIONS = [
    UnitDecl("Mamba2Layer", "Mamba-2 sequence mixer: projections, causal conv, SSD scan, gated norm.",
             ["X"], ["Y"]),
    UnitDecl("RMSNorm", "Root-mean-square normalisation over the feature axis.", ["X"], ["Y"]),
]


@gau_test
def test_mamba2_block_shape_and_grad(device=None, dtype=None):
    block = Mamba2(64, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(2, 20, 64, device=device, dtype=dtype, requires_grad=True)
    Y, _ = block(X)
    assert Y.shape == X.shape
    Y.sum().backward()
    assert torch.isfinite(X.grad).all()
