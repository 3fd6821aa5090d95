"""GPT2: the pre-norm Transformer block, the reference every other design is measured against."""

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class GPT2(GAUBase):
    """Pre-norm Transformer block.

    Y = H + GatedMLP(RMSNorm(H)) with H = X + MHA(RMSNorm(X)). Residuals live here, so the LM
    wrapper adds none.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm_attn = RMSNorm(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                 kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self.mha = MHA(embed_dim=self.embed_dim, block_loc=self.block_loc,
                       kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self.norm_mlp = RMSNorm(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self.mlp = GatedMLP(embed_dim=self.embed_dim, block_loc=self.block_loc,
                            kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)

    def _forward(self, X, **Z):
        H, Z = self.norm_attn(X, **Z)
        H, Z = self.mha(H, **Z)
        X = X + H
        H, Z = self.norm_mlp(X, **Z)
        H, Z = self.mlp(H, **Z)
        return X + H, Z


CHILDREN_DECLARATIONS = [
    UnitDecl("MHA", "Multi-head causal self-attention with rotary position embeddings.", ["X"], ["Y"]),
    UnitDecl("GatedMLP", "Position-wise gated feed-forward network.", ["X"], ["Y"]),
    UnitDecl("RMSNorm", "Root-mean-square normalisation over the feature axis.", ["X"], ["Y"]),
]


@gau_test
def test_gpt2_shape(device=None, dtype=None):
    block = GPT2(64, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(2, 16, 64, device=device, dtype=dtype)
    Y, _ = block(X)
    assert Y.shape == X.shape
