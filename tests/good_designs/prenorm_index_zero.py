# why: a pre-norm block whose units use the reference idioms for a child's output pair:
#      `self.norm(X, **Z)[0]`, `Y, Z_ = self.mha(X, **Z)` and `out = self.mlp(X, **Z); Y = out[0]`

import torch
import torch.nn as nn
import torch.nn.functional as F
from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test


class PreNormBlock(GAUBase):
    """Attention and a gated MLP, each behind an RMSNorm and a residual."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm = ScaleNorm(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                              **self.factory_kwargs, **kwarg_all)
        self.mha = CausalAttention(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                                   **self.factory_kwargs, **kwarg_all)
        self.mlp = GatedMLP(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                            **self.factory_kwargs, **kwarg_all)

    def _forward(self, X, **Z):
        H = self.norm(X, **Z)[0]
        Y, Z_ = self.mha(H, **Z)
        X = X + Y
        out = self.mlp(self.norm(X, **Z)[0], **Z)
        Y = out[0]
        return X + Y, Z_


class ScaleNorm(GAUBase):
    """RMS normalisation with a learned scale."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, eps=1e-6, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.weight = nn.Parameter(torch.ones(embed_dim, **self.factory_kwargs))
        self.eps = eps

    def _forward(self, X, **Z):
        rms = torch.rsqrt(X.pow(2).mean(-1, keepdim=True) + self.eps)
        return X * rms * self.weight


class CausalAttention(GAUBase):
    """Multi-head softmax attention with a causal mask."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, n_heads=4, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.n_heads = n_heads
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=False, **self.factory_kwargs)
        self.out = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        B, L, D = X.shape
        q, k, v = self.qkv(X).chunk(3, dim=-1)
        q, k, v = (t.view(B, L, self.n_heads, D // self.n_heads).transpose(1, 2) for t in (q, k, v))
        Y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(Y.transpose(1, 2).reshape(B, L, D)), {"attn_seen": L}


class GatedMLP(GAUBase):
    """SwiGLU feed-forward."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, mlp_ratio=2, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        hidden = int(embed_dim * mlp_ratio)
        self.fc1 = nn.Linear(embed_dim, 2 * hidden, bias=False, **self.factory_kwargs)
        self.fc2 = nn.Linear(hidden, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        gate, up = self.fc1(X).chunk(2, dim=-1)
        return self.fc2(F.silu(gate) * up)


@gau_test
def test_prenorm_block_keeps_shape(device=None, dtype=None):
    block = PreNormBlock(32, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(2, 8, 32, device=device, dtype=dtype)
    assert block(X)[0].shape == X.shape


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = PreNormBlock(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs,
                                 **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {"n_heads": 4, "mlp_ratio": 2, "eps": 1e-6}
