# expect: no-mixing
# why: the GP designer swapped the retention layer for an MLP: two per-position MLPs, no token mixer
import torch
import torch.nn as nn
import torch.nn.functional as F

from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test, UnitDecl


class Block(GAUBase):
    """pre-norm residual block whose 'mixer' is a per-position MLP: nothing reads another position"""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm1 = nn.LayerNorm(embed_dim, **self.factory_kwargs)
        self.up1 = nn.Linear(embed_dim, 2 * embed_dim, bias=False, **self.factory_kwargs)
        self.down1 = nn.Linear(2 * embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self.norm2 = nn.LayerNorm(embed_dim, **self.factory_kwargs)
        self.up2 = nn.Linear(embed_dim, 2 * embed_dim, bias=False, **self.factory_kwargs)
        self.down2 = nn.Linear(2 * embed_dim, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        X = X + self.down1(F.gelu(self.up1(self.norm1(X))))
        return X + self.down2(F.gelu(self.up2(self.norm2(X))))


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = Block(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs, **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {}
