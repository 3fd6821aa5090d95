"""MultiScaleRetention: RetNet's multi-scale retention, in chunkwise-parallel form (Sun et al., 2023)."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, gau_test


class MultiScaleRetention(GAUBase):
    """Multi-scale retention (Sun et al., 2023, Eq. 5-8).

    Per head, with q and k rotated by their positions (the e^{in theta} of Eq. 5, rotary form),
    o_n = sum_{m<=n} gamma^{n-m} (q_n . k_m) v_m, i.e. (Q K^T * D) V with D_nm = gamma^{n-m} causal.
    Each of the `retention_heads` heads has a fixed decay gamma = 1 - 2^(-5 - head) (Eq. 8), so heads
    look back over ~32 to ~32 * 2^(h-1) tokens. Values and the gate are `retention_value_factor` x
    embed_dim wide. Then a per-head GroupNorm (no affine), the swish gate swish(X W_G) * ... and out_proj.

    Evaluated chunkwise (Eq. 7): quadratic inside chunks of `retention_chunk_size`, and a decayed
    sum of the chunks' key-value states across chunks, written as one masked matmul over chunks:
    linear in length, no Python loop. The paper's score normalisations (Sec. 2.2) are left out: the
    per-head GroupNorm is invariant to the scale they remove. Future positions enter every reduction
    only through exact zeros of a causal mask, so output t does not depend on later inputs.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, retention_heads=4,
                 retention_value_factor=2, retention_chunk_size=64, retention_rope_base=10000.0,
                 norm_eps=1e-5, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        n_heads = max(1, min(retention_heads, embed_dim // 2))
        while embed_dim % n_heads or (embed_dim // n_heads) % 2:  # rotary needs an even key width
            n_heads -= 1
        self.n_heads = n_heads
        self.key_dim = embed_dim // n_heads
        self.value_dim = retention_value_factor * self.key_dim
        self.chunk_size = retention_chunk_size
        self.rope_base = retention_rope_base
        self.norm_eps = norm_eps
        value_width = n_heads * self.value_dim
        # W_Q, W_K, W_V and W_G of the paper as one matmul: [q | k | v | g].
        self.split_sizes = [embed_dim, embed_dim, value_width, value_width]
        self.in_proj = nn.Linear(embed_dim, sum(self.split_sizes), bias=False, **self.factory_kwargs)
        self.out_proj = nn.Linear(value_width, embed_dim, bias=False, **self.factory_kwargs)

    def log_decays(self, device):
        """log gamma per head, gamma = 1 - 2^(-5 - arange(h)) (Eq. 8)."""
        heads = torch.arange(self.n_heads, device=device, dtype=torch.float32)
        return torch.log1p(-torch.exp2(-5.0 - heads))

    def rotate(self, x):
        """Rotate feature pairs (i, i + Dk/2) of x (B, L, H, Dk) by angle n * base^(-2i/Dk) at position n.

        Pairs are the two halves (rotate-half layout: contiguous slices, cheaper than interleaved
        pairs, and equivalent up to a permutation of the learned projection's columns)."""
        length, half = x.shape[1], x.shape[-1] // 2
        inv_freq = self.rope_base ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)
        angles = torch.outer(torch.arange(length, device=x.device, dtype=torch.float32), inv_freq)
        cos, sin = angles.cos().to(x.dtype)[:, None, :], angles.sin().to(x.dtype)[:, None, :]
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)

    def retention(self, q, k, v, scale=1.0):
        """Chunkwise retention of q, k (B, L, H, Dk) and v (B, L, H, Dv), scores scaled by `scale`;
        returns (B, L, H, Dv)."""
        batch, length, n_heads, _ = q.shape
        T = min(self.chunk_size, length)
        pad = (-length) % T
        if pad:  # zeros at the end: only the (discarded) padded positions can see them
            q, k, v = (F.pad(t, (0, 0, 0, 0, 0, pad)) for t in (q, k, v))
        n_chunks = (length + pad) // T
        q, k, v = (t.reshape(batch, n_chunks, T, n_heads, -1).permute(0, 3, 1, 2, 4) for t in (q, k, v))
        log_gamma = self.log_decays(q.device)[:, None, None]  # (H, 1, 1)
        pos = torch.arange(T, device=q.device, dtype=torch.float32)

        # Inside a chunk: (Q K^T * D) V, D[i, j] = gamma^(i-j) for i >= j, exactly 0 above.
        gap = pos[:, None] - pos[None, :]
        D = (gap * log_gamma).masked_fill(gap < 0, float("-inf")).exp().mul(scale).to(q.dtype)  # (H, T, T)
        out = ((q @ k.transpose(-1, -2)) * D[:, None]) @ v  # (B, H, n, T, Dv)
        if n_chunks > 1:
            # The key-value state each chunk leaves, decayed to its last position.
            k_to_end = k * ((T - 1 - pos)[:, None] * log_gamma).exp().mul(scale).to(k.dtype)[:, None]
            states = k_to_end.transpose(-1, -2) @ v  # (B, H, n, Dk, Dv)
            # State entering chunk z: sum over c < z of gamma^(T (z - 1 - c)) * states[c].
            chunk = torch.arange(n_chunks, device=q.device, dtype=torch.float32)
            hops = chunk[:, None] - chunk[None, :] - 1
            M = (hops * T * log_gamma).masked_fill(hops < 0, float("-inf")).exp().to(q.dtype)  # (H, n, n)
            entering = (M[None] @ states.flatten(-2)).view_as(states)
            q_from_start = q * ((pos + 1)[:, None] * log_gamma).exp().to(q.dtype)[:, None]
            out = out + q_from_start @ entering
        return out.permute(0, 2, 3, 1, 4).reshape(batch, n_chunks * T, n_heads, -1)[:, :length]

    def _forward(self, X, **Z):
        batch, length, _ = X.shape
        qk, v, g = self.in_proj(X).split([2 * self.embed_dim] + self.split_sizes[2:], dim=-1)
        qk = self.rotate(qk.view(batch, length, 2 * self.n_heads, self.key_dim))  # q and k in one go
        q, k = qk.chunk(2, dim=2)
        v = v.view(batch, length, self.n_heads, self.value_dim)
        o = self.retention(q, k, v, scale=1.0 / math.sqrt(self.key_dim))
        o = F.layer_norm(o.float(), (self.value_dim,), eps=self.norm_eps).to(X.dtype)  # GroupNorm per head
        o = o.reshape(batch, length, -1) * F.silu(g)
        return self.out_proj(o)


@gau_test
def test_retention_chunkwise_matches_parallel_form(device=None, dtype=None):
    msr = MultiScaleRetention(32, (0, 1), {}, device=device, dtype=dtype, retention_chunk_size=4)
    kw = {"device": device, "dtype": dtype}
    b, L, h = 2, 13, msr.n_heads  # 13 = 3 full chunks + a padded one
    q, k = torch.randn(b, L, h, msr.key_dim, **kw), torch.randn(b, L, h, msr.key_dim, **kw)
    v = torch.randn(b, L, h, msr.value_dim, **kw)
    gamma = 1 - 2.0 ** (-5 - torch.arange(h, dtype=torch.float32))
    n = torch.arange(L, dtype=torch.float32)
    D = gamma[:, None, None] ** (n[:, None] - n[None, :]) * (n[:, None] >= n[None, :])  # Eq. 5 mask
    scores = torch.einsum("bnhd,bmhd->bhnm", q, k) * D.to(**kw)
    expected = torch.einsum("bhnm,bmhd->bnhd", scores, v)
    assert torch.allclose(msr.retention(q, k, v), expected, atol=1e-4, rtol=1e-4)


@gau_test
def test_retention_is_causal(device=None, dtype=None):
    msr = MultiScaleRetention(64, (0, 1), {}, device=device, dtype=dtype, retention_chunk_size=8)
    X = torch.randn(2, 30, 64, device=device, dtype=dtype)
    Y1, _ = msr(X)
    X2 = X.clone()
    X2[:, 13:] = torch.randn_like(X2[:, 13:])
    Y2, _ = msr(X2)
    assert torch.equal(Y1[:, :13], Y2[:, :13])
    assert not torch.equal(Y1[:, 13:], Y2[:, 13:])
