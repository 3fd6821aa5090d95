"""MHA: multi-head causal self-attention with rotary position embeddings."""

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class MHA(GAUBase):
    """Multi-head causal self-attention.

    Queries and keys are rotated by the `RotaryPositionalEmbeddings` child; attention is causal
    scaled dot-product attention (a fused kernel where torch has one). Heads are `head_dim` wide;
    when `embed_dim` is not a multiple of it, the largest head count that divides `embed_dim` is used.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, head_dim=64,
                 attn_bias=False, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        n_heads = max(1, embed_dim // head_dim)
        while embed_dim % n_heads:
            n_heads -= 1
        self.n_heads = n_heads
        self.head_dim = embed_dim // n_heads
        self.qkv_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=attn_bias, **self.factory_kwargs)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=attn_bias, **self.factory_kwargs)
        self.rotary_emb = RotaryPositionalEmbeddings(
            embed_dim=self.embed_dim, block_loc=self.block_loc, kwarg_all=self.kwarg_all,
            **self.factory_kwargs, **self.kwarg_all)

    def _forward(self, X, **Z):
        B, L, D = X.shape
        q, k, v = self.qkv_proj(X).view(B, L, 3, self.n_heads, self.head_dim).unbind(dim=2)
        _, Z = self.rotary_emb(X, **{**Z, "input_emb": q})
        q = Z["output_emb"]
        _, Z = self.rotary_emb(X, **{**Z, "input_emb": k})
        k = Z["output_emb"]
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, L, Dh)
        Y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        Y = Y.transpose(1, 2).reshape(B, L, D)
        return self.out_proj(Y), {"output_emb": None}


CHILDREN_DECLARATIONS = [
    UnitDecl(
        "RotaryPositionalEmbeddings",
        "Rotate a (B, L, H, Dh) tensor given as Z['input_emb'] by its positions; return it as Z['output_emb'].",
        ["input_emb", "input_pos"],
        ["output_emb"],
    ),
]


@gau_test
def test_mha_causal(device=None, dtype=None):
    mha = MHA(64, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(1, 12, 64, device=device, dtype=dtype)
    Y1, _ = mha(X)
    X2 = X.clone()
    X2[:, 6:] = torch.randn_like(X2[:, 6:])
    Y2, _ = mha(X2)
    assert torch.allclose(Y1[:, :6], Y2[:, :6], atol=1e-5)
