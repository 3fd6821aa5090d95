# why: a causal linear-attention block; the outputs of two children collected in a list and
#      read by index (`outs = [self.attn(H, **Z), self.mlp(H, **Z)]; Y = outs[0][0] + outs[1][0]`)
import torch
import torch.nn as nn
import torch.nn.functional as F
from model_discovery.model.utils.modules import GABBase, GAUBase


class ParallelLinearBlock(GAUBase):
    """Linear attention and an MLP in parallel on one normalised input (as in GPT-J)."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm = nn.LayerNorm(embed_dim, **self.factory_kwargs)
        self.attn = CausalLinearAttention(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                                          **self.factory_kwargs, **kwarg_all)
        self.mlp = PlainMLP(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                            **self.factory_kwargs, **kwarg_all)

    def _forward(self, X, **Z):
        H = self.norm(X)
        outs = [self.attn(H, **Z), self.mlp(H, **Z)]
        return X + outs[0][0] + outs[1][0]


class CausalLinearAttention(GAUBase):
    """phi(q) . cumsum(phi(k) v^T) / phi(q) . cumsum(phi(k)), with phi = elu + 1: causal by the cumsum."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, n_heads=4, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.n_heads = n_heads
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=False, **self.factory_kwargs)
        self.out = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        B, L, D = X.shape
        h = self.n_heads
        q, k, v = self.qkv(X).view(B, L, 3, h, D // h).unbind(2)
        q, k = F.elu(q) + 1, F.elu(k) + 1
        kv = torch.einsum("blhd,blhe->blhde", k, v).cumsum(dim=1)
        num = torch.einsum("blhd,blhde->blhe", q, kv)
        den = torch.einsum("blhd,blhd->blh", q, k.cumsum(dim=1)).unsqueeze(-1)
        return self.out((num / (den + 1e-6)).reshape(B, L, D))


class PlainMLP(GAUBase):
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
        self.root = ParallelLinearBlock(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs,
                                        **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {"n_heads": 4}
