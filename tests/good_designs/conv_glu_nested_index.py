# why: a short-convolution block; children's outputs indexed inline and nested
#      (`self.conv(self.norm(X, **Z)[0], **Z)[0]`), a child's pair returned as it is
import torch
import torch.nn as nn
import torch.nn.functional as F
from model_discovery.model.utils.modules import GABBase, GAUBase


class ConvGLUBlock(GAUBase):
    """A causal depthwise convolution for token mixing, then a gated MLP."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm = LayerNormUnit(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                                  **self.factory_kwargs, **kwarg_all)
        self.conv = ShortConv(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                              **self.factory_kwargs, **kwarg_all)
        self.ffn = ResidualGLU(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                               **self.factory_kwargs, **kwarg_all)

    def _forward(self, X, **Z):
        X = X + self.conv(self.norm(X, **Z)[0], **Z)[0]
        return self.ffn(X, **Z)


class LayerNormUnit(GAUBase):
    """LayerNorm as a unit."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.ln = nn.LayerNorm(embed_dim, **self.factory_kwargs)

    def _forward(self, X, **Z):
        return self.ln(X)


class ShortConv(GAUBase):
    """Depthwise convolution over the last `kernel_size` positions (left padding only: causal)."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, kernel_size=4, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(embed_dim, embed_dim, kernel_size, groups=embed_dim, **self.factory_kwargs)
        self.proj = nn.Linear(embed_dim, embed_dim, **self.factory_kwargs)

    def _forward(self, X, **Z):
        H = F.pad(X.transpose(1, 2), (self.kernel_size - 1, 0))
        return self.proj(F.silu(self.conv(H).transpose(1, 2)))


class ResidualGLU(GAUBase):
    """Norm, GLU feed-forward, residual; hands the norm's Z updates on."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm = LayerNormUnit(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwarg_all,
                                  **self.factory_kwargs, **kwarg_all)
        self.w_in = nn.Linear(embed_dim, 4 * embed_dim, bias=False, **self.factory_kwargs)
        self.w_out = nn.Linear(2 * embed_dim, embed_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        H, Z = self.norm(X, **Z)
        a, b = self.w_in(H).chunk(2, dim=-1)
        return X + self.w_out(a * torch.sigmoid(b)), Z


class GAB(GABBase):
    def __init__(self, embed_dim: int, block_loc: tuple, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = ConvGLUBlock(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs,
                                 **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {"kernel_size": 4}
