# expect: nan-inf
# why: sqrt of an exact zero: the forward pass is finite, the gradient is not
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test, UnitDecl


class Block(GAUBase):
    """sqrt of an exact zero: the forward pass is finite, the gradient is not"""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        mixed = torch.cumsum(X, dim=1) / torch.arange(1, X.shape[1] + 1, device=X.device, dtype=X.dtype).view(1, -1, 1)  # a token mixer: only the sqrt at zero is wrong
        return X + self.proj(mixed) + torch.sqrt(((X - X) ** 2).sum(dim=-1, keepdim=True))


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = Block(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs, **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {}
