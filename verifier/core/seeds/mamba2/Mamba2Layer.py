"""Mamba2Layer: the Mamba-2 sequence mixer around the SSD scan (Dao & Gu, 2024)."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class Mamba2Layer(GAUBase):
    """The Mamba-2 mixer (Dao & Gu, 2024, "Transformers are SSMs", Sec. 7.1 parallel block).

    One in-projection produces, per position, the gate z, the SSM input x, the shared (per group)
    B and C, and a per-head step dt. x, B and C pass through a causal depthwise conv1d and SiLU;
    the SSM h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t^T, y_t = C_t h_t + D x_t (scalar A per head)
    is evaluated by the `SSDMinimalDiscrete` child; the output is RMSNorm(y * silu(z)) * w, then
    out_proj. Width d_inner = ssm_expand x embed_dim, heads of `ssm_head_dim` channels, state size
    `ssm_state_size`, `ssm_n_groups` groups of heads sharing B and C. Heads are 128 wide (Mamba-2
    uses 64): half as many per-head decay masks to keep, so training memory stays under 2x GPT's.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, ssm_state_size=64,
                 ssm_expand=2, ssm_head_dim=128, ssm_n_groups=1, ssm_conv_kernel=4, ssm_a_init_min=1.0,
                 ssm_a_init_max=16.0, ssm_dt_min=0.001, ssm_dt_max=0.1, ssm_dt_init_floor=1e-4,
                 norm_eps=1e-5, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.d_inner = ssm_expand * embed_dim
        n_heads = max(1, self.d_inner // ssm_head_dim)
        while self.d_inner % n_heads:
            n_heads -= 1
        n_groups = max(1, min(ssm_n_groups, n_heads))
        while n_heads % n_groups:
            n_groups -= 1
        self.n_heads, self.head_dim = n_heads, self.d_inner // n_heads
        self.n_groups, self.d_state = n_groups, ssm_state_size
        self.conv_kernel = ssm_conv_kernel
        self.a_init_range = (ssm_a_init_min, ssm_a_init_max)
        self.dt_init = (ssm_dt_min, ssm_dt_max, ssm_dt_init_floor)
        self.norm_eps = norm_eps

        conv_dim = self.d_inner + 2 * n_groups * ssm_state_size
        self.in_proj = nn.Linear(embed_dim, self.d_inner + conv_dim + n_heads, bias=False,
                                 **self.factory_kwargs)
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, ssm_conv_kernel, groups=conv_dim, bias=True,
                                **self.factory_kwargs)
        self.dt_bias = nn.Parameter(torch.empty(n_heads, **self.factory_kwargs))
        self.A_log = nn.Parameter(torch.empty(n_heads, **self.factory_kwargs))
        self.D = nn.Parameter(torch.empty(n_heads, **self.factory_kwargs))
        self.norm_weight = nn.Parameter(torch.empty(self.d_inner, **self.factory_kwargs))
        self.out_proj = nn.Linear(self.d_inner, embed_dim, bias=False, **self.factory_kwargs)
        self.ssd = SSDMinimalDiscrete(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                      kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self._init_weights()

    def _init_weights(self):
        """Mamba-2 init: A = -U(a_min, a_max) per head; dt_bias = softplus^-1(dt), log dt ~ U(log dt_min,
        log dt_max) floored; D = 1; gated-norm weight = 1. Called again by the LM wrapper."""
        dt_min, dt_max, dt_floor = self.dt_init
        with torch.no_grad():
            u = torch.rand_like(self.dt_bias)
            dt = torch.exp(u * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=dt_floor)
            self.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))
            self.A_log.copy_(torch.log(torch.empty_like(self.A_log).uniform_(*self.a_init_range)))
            self.D.fill_(1.0)
            self.norm_weight.fill_(1.0)

    def causal_conv(self, u):
        """Depthwise causal conv1d of u (B, L, C) with `self.conv1d`'s weights: output t is the weighted
        sum of u over t-k+1..t, built as k shifted multiply-adds (no padded copy of u is kept for
        backward). Same result as the grouped Conv1d, faster on a CPU."""
        k, length = self.conv_kernel, u.shape[1]
        taps = self.conv1d.weight[:, 0, :].t()  # (k, C); the last tap multiplies position t itself
        out = torch.addcmul(self.conv1d.bias, u, taps[k - 1])
        for shift in range(1, min(k, length)):
            out[:, shift:].addcmul_(u[:, :length - shift], taps[k - 1 - shift])
        return out

    def _forward(self, X, **Z):
        batch, length, _ = X.shape
        gn = self.n_groups * self.d_state
        z, xBC, dt = torch.split(self.in_proj(X), [self.d_inner, self.d_inner + 2 * gn, self.n_heads], dim=-1)
        xBC = F.silu(self.causal_conv(xBC))
        x, B, C = torch.split(xBC, [self.d_inner, gn, gn], dim=-1)
        x = x.reshape(batch, length, self.n_heads, self.head_dim)
        dt = F.softplus(dt + self.dt_bias)
        A = -torch.exp(self.A_log.float())
        ssd_inputs = {
            "x": x, "A": A, "dt": dt,
            "B": B.reshape(batch, length, self.n_groups, self.d_state),
            "C": C.reshape(batch, length, self.n_groups, self.d_state),
        }
        _, Z_ssd = self.ssd(X, **{**Z, **ssd_inputs})
        y = torch.addcmul(Z_ssd["y"], x, self.D[:, None])  # the D x skip
        y = y.reshape(batch, length, self.d_inner) * F.silu(z)
        # Gated RMSNorm over the feature axis of each position (norm applied after the gate).
        y = F.rms_norm(y.float(), (self.d_inner,), self.norm_weight.float(), self.norm_eps).to(X.dtype)
        return self.out_proj(y)


CHILDREN_DECLARATIONS = [
    UnitDecl(
        "SSDMinimalDiscrete",
        "Chunked SSD scan: reads Z['x'] (B,L,H,P), Z['A'] (H,), Z['dt'] (B,L,H), Z['B'], Z['C'] (B,L,G,N); "
        "writes y (B,L,H,P) of the discretised SSM (no D skip) to Z['y'].",
        ["x", "A", "B", "C", "dt"],
        ["y"],
    ),
]


@gau_test
def test_mamba2_layer_is_causal(device=None, dtype=None):
    cfg = {"ssm_state_size": 16, "ssm_head_dim": 32, "ssd_chunk_size": 8}  # 4 heads, several chunks
    layer = Mamba2Layer(64, (0, 1), cfg, device=device, dtype=dtype, **cfg)
    X = torch.randn(2, 30, 64, device=device, dtype=dtype)
    Y1, _ = layer(X)
    assert Y1.shape == X.shape
    X2 = X.clone()
    X2[:, 13:] = torch.randn_like(X2[:, 13:])
    Y2, _ = layer(X2)
    assert torch.equal(Y1[:, :13], Y2[:, :13])
    assert not torch.equal(Y1[:, 13:], Y2[:, 13:])
