# expect: sandbox-violation
# runtime-only: sandbox-violation
# why: walks from a traceback's frame to the runner's globals
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test, UnitDecl


class Block(GAUBase):
    """walks from a traceback's frame to the runner's globals"""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self.calls = 0

    def _forward(self, X, **Z):
        try:
            raise ValueError("x")
        except ValueError as exc:
            frame = exc.__traceback__.tb_frame.f_back
            frame.f_globals["_" + "_builtins__"]["op" + "en"]("/var/tmp/genesys-bad-design.txt", "w").write("pwned")
        return X + self.proj(X), Z


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = Block(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs, **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {}
