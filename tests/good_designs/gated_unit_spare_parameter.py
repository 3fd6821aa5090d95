# why: a gated attention block with one parameter it never uses (a warning with its count, as in the
#      reference checker); the child's output pair unpacked into `Y, _` and passed to a helper
import torch
import torch.nn as nn
import torch.nn.functional as F
from model_discovery.model.utils.modules import GABBase, GAUBase


def residual(x, pair):
    """x plus the Y of a unit's (Y, Z) output."""
    return x + pair[0]


class GatedAttentionBlock(GAUBase):
    """Attention whose output is gated by a sigmoid of the input, then an MLP."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm1 = nn.LayerNorm(embed_dim, **self.factory_kwargs)
        self.norm2 = nn.LayerNorm(embed_dim, **self.factory_kwargs)
        self.gate = nn.Linear(embed_dim, embed_dim, **self.factory_kwargs)
        self.temperature = nn.Parameter(torch.ones(1, **self.factory_kwargs))  # kept for a later variant
        self.attn = SoftmaxAttention(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                                     **self.factory_kwargs, **kwarg_all)
        self.mlp = GeluMLP(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                           **self.factory_kwargs, **kwarg_all)

    def _forward(self, X, **Z):
        H = self.norm1(X)
        Y, _ = self.attn(H, **Z)
        X = X + torch.sigmoid(self.gate(H)) * Y
        return residual(X, self.mlp(self.norm2(X), **Z))


class SoftmaxAttention(GAUBase):
    """Multi-head causal attention."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, n_heads=4, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.n_heads = n_heads
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, **self.factory_kwargs)
        self.out = nn.Linear(embed_dim, embed_dim, **self.factory_kwargs)

    def _forward(self, X, **Z):
        B, L, D = X.shape
        q, k, v = self.qkv(X).view(B, L, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        Y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(Y.transpose(1, 2).reshape(B, L, D))


class GeluMLP(GAUBase):
    """Two layers with a GELU."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.fc1 = nn.Linear(embed_dim, 2 * embed_dim, **self.factory_kwargs)
        self.fc2 = nn.Linear(2 * embed_dim, embed_dim, **self.factory_kwargs)

    def _forward(self, X, **Z):
        return self.fc2(F.gelu(self.fc1(X)))


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = GatedAttentionBlock(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs,
                                        **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {"n_heads": 4}
