# expect: non-causal
# why: self-attention without a causal mask
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test, UnitDecl


class Block(GAUBase):
    """self-attention without a causal mask"""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        B, L, D = X.shape
        q, k, v = self.qkv(X).view(B, L, 3, 2, D // 2).permute(2, 0, 3, 1, 4)
        H = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, L, D)
        return X + self.proj(H)


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = Block(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs, **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {}
