# expect: protocol
# why: a child unit's (Y, Z) result is used as if it were a tensor
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test, UnitDecl


class Block(GAUBase):
    """a child unit's (Y, Z) result is used as if it were a tensor"""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self.mixer = Mixer(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all, **self.factory_kwargs, **kwarg_all)

    def _forward(self, X, **Z):
        H = self.mixer(X, **Z)
        return X + H


class Mixer(GAUBase):
    """A position-wise projection."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.fc = nn.Linear(embed_dim, embed_dim, device=device, dtype=dtype)

    def _forward(self, X, **Z):
        return self.fc(X)


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = Block(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs, **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {}
