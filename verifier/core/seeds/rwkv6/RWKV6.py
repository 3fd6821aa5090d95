"""RWKV6: the Finch block, time mixing then channel mixing, each a pre-LayerNorm residual."""

from torch import nn

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class RWKV6(GAUBase):
    """Finch block (Peng et al. 2024): H = X + RWKV6Attention(LN(X)), Y = H + RWKV6FeedForward(LN(H)).

    As in RWKV, the first block also LayerNorms its input (ln0), since the embedding is not
    normalised. Norms are LayerNorm with bias; residuals live here, so the LM wrapper adds none.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, norm_eps=1e-5, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm_input = (nn.LayerNorm(embed_dim, eps=norm_eps, **self.factory_kwargs)
                           if block_loc[0] == 0 else None)
        self.norm_attn = nn.LayerNorm(embed_dim, eps=norm_eps, **self.factory_kwargs)
        self.attn = RWKV6Attention(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                   kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self.norm_ffn = nn.LayerNorm(embed_dim, eps=norm_eps, **self.factory_kwargs)
        self.ffn = RWKV6FeedForward(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                    kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)

    def _forward(self, X, **Z):
        if self.norm_input is not None:
            X = self.norm_input(X)
        H, Z = self.attn(self.norm_attn(X), **Z)
        X = X + H
        H, Z = self.ffn(self.norm_ffn(X), **Z)
        return X + H, Z


CHILDREN_DECLARATIONS = [
    UnitDecl("RWKV6Attention", "Finch time mixing: data-dependent token shift and decay, chunked wkv.",
             ["X"], ["Y"]),
    UnitDecl("RWKV6FeedForward", "Finch channel mixing: token-shifted squared-ReLU MLP with a receptance gate.",
             ["X"], ["Y"]),
]


@gau_test
def test_rwkv6_block_shape(device=None, dtype=None):
    block = RWKV6(64, (0, 2), {}, device=device, dtype=dtype)
    X = torch.randn(2, 20, 64, device=device, dtype=dtype)
    Y, _ = block(X)
    assert Y.shape == X.shape and torch.isfinite(Y).all()
