# expect: protocol
# why: the block builds a unit that nobody has written
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test, UnitDecl


class Block(GAUBase):
    """the block builds a unit that nobody has written"""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self.attn = FancyAttention(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all, **self.factory_kwargs, **kwarg_all)

    def _forward(self, X, **Z):
        H, Z = self.attn(X, **Z)
        return X + H, Z


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = Block(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs, **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {}
