"""TTT: the TTT-Linear block, conv then TTT layer then MLP, each a pre-norm residual."""

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class TTT(GAUBase):
    """TTT block (Sun et al. 2024, Mamba-style backbone with pre-conv):

        X1 = X + Conv(X),   X2 = X1 + TTTLinear(RMSNorm(X1)),   Y = X2 + SwiGluMLP(RMSNorm(X2)).

    Residuals live here, so the LM wrapper adds none.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.conv = Conv(embed_dim=self.embed_dim, block_loc=self.block_loc, kwarg_all=self.kwarg_all,
                         **self.factory_kwargs, **self.kwarg_all)
        self.norm_ttt = RMSNorm(embed_dim=self.embed_dim, block_loc=self.block_loc, kwarg_all=self.kwarg_all,
                                **self.factory_kwargs, **self.kwarg_all)
        self.ttt = TTTLinear(embed_dim=self.embed_dim, block_loc=self.block_loc, kwarg_all=self.kwarg_all,
                             **self.factory_kwargs, **self.kwarg_all)
        self.norm_mlp = RMSNorm(embed_dim=self.embed_dim, block_loc=self.block_loc, kwarg_all=self.kwarg_all,
                                **self.factory_kwargs, **self.kwarg_all)
        self.mlp = SwiGluMLP(embed_dim=self.embed_dim, block_loc=self.block_loc, kwarg_all=self.kwarg_all,
                             **self.factory_kwargs, **self.kwarg_all)

    def _forward(self, X, **Z):
        H, Z = self.conv(X, **Z)
        X = X + H
        H, Z = self.norm_ttt(X, **Z)
        H, Z = self.ttt(H, **Z)
        X = X + H
        H, Z = self.norm_mlp(X, **Z)
        H, Z = self.mlp(H, **Z)
        return X + H, Z


CHILDREN_DECLARATIONS = [
    UnitDecl("Conv", "Short causal depthwise convolution over time on RMS-normalised input.", ["X"], ["Y"]),
    UnitDecl("TTTLinear", "TTT-Linear sequence layer: an inner linear model trained per mini-batch.", ["X"], ["Y"]),
    UnitDecl("SwiGluMLP", "Position-wise SwiGLU feed-forward network.", ["X"], ["Y"]),
    UnitDecl("RMSNorm", "Root-mean-square normalisation over the feature axis.", ["X"], ["Y"]),
]


@gau_test
def test_ttt_block_shape(device=None, dtype=None):
    block = TTT(64, (0, 2), {}, device=device, dtype=dtype)
    X = torch.randn(2, 21, 64, device=device, dtype=dtype)
    Y, _ = block(X)
    assert Y.shape == X.shape and torch.isfinite(Y).all()
