"""Conv: a short causal depthwise convolution over time, the TTT block's pre-conv."""

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class Conv(GAUBase):
    """Y_t = sum_{i<k} w_i * RMSNorm(X)_{t-i} + b, per channel (Sun et al. 2024, TTT with Mamba backbone).

    The input is left-padded with k - 1 zeros only, so Y_t reads nothing after t. The kernel size is
    `conv_kernel_size`.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, conv_kernel_size=4, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm = RMSNorm(embed_dim=self.embed_dim, block_loc=self.block_loc, kwarg_all=self.kwarg_all,
                            **self.factory_kwargs, **self.kwarg_all)
        self.kernel_size = conv_kernel_size
        self.conv = nn.Conv1d(embed_dim, embed_dim, kernel_size=conv_kernel_size, groups=embed_dim, bias=True,
                              **self.factory_kwargs)

    def _forward(self, X, **Z):
        H, Z = self.norm(X, **Z)
        H = F.pad(H.transpose(1, 2), (self.kernel_size - 1, 0))  # (B, D, k - 1 + L), past side only
        return self.conv(H).transpose(1, 2), Z


CHILDREN_DECLARATIONS = [
    UnitDecl("RMSNorm", "Root-mean-square normalisation over the feature axis.", ["X"], ["Y"]),
]


@gau_test
def test_conv_is_causal_with_a_short_window(device=None, dtype=None):
    conv = Conv(16, (0, 1), {}, device=device, dtype=dtype, conv_kernel_size=3)
    X = torch.randn(2, 10, 16, device=device, dtype=dtype)
    Y, _ = conv(X)
    X2 = X.clone()
    X2[:, 6:] = torch.randn_like(X2[:, 6:])
    Y2, _ = conv(X2)
    assert Y.shape == X.shape and torch.equal(Y[:, :6], Y2[:, :6])
    X3 = X.clone()
    X3[:, :2] = torch.randn_like(X3[:, :2])  # outside the window of t >= 4
    Y3, _ = conv(X3)
    assert torch.equal(Y3[:, 4:], Y[:, 4:])
