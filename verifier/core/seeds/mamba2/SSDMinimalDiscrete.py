"""SSDMinimalDiscrete: the chunked state-space-duality (SSD) scan of Mamba-2 in plain PyTorch."""

import torch
import torch.nn.functional as F

from verifier.core.gau.base import GAUBase, gau_test


class SSDMinimalDiscrete(GAUBase):
    """Chunked SSD of Mamba-2 (Dao & Gu, 2024, Sec. 6, the "minimal SSD" listing).

    Computes y_t = sum_{s<=t} C_t^T (prod_{r=s+1..t} exp(dt_r A)) B_s dt_s x_s for a scalar decay A < 0
    per head. The sequence is cut into chunks of `ssd_chunk_size`: inside a chunk the quadratic
    (attention-like) form with the decay mask L = exp(segsum(dt A)); across chunks a recurrence of the
    chunk-final states, itself written as one masked matmul over chunks. Cost is linear in length;
    no Python loop over positions. Every reduction mixing positions multiplies future ones by an
    exact 0 of a causal mask, so y_t does not depend on later inputs, not even in rounding.
    X passes through unchanged; inputs and output travel in Z.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, ssd_chunk_size=64, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.chunk_size = ssd_chunk_size

    @staticmethod
    def segment_sum(a):
        """S[..., i, j] = a[..., j+1] + ... + a[..., i] for i >= j, -inf above the diagonal.

        Built as a cumulative sum of a masked copy (not a difference of prefix sums), so exp(S) is
        exactly 1 on the diagonal, exactly 0 above it, and accurate for long segments.
        """
        T = a.size(-1)
        a = a.unsqueeze(-1).expand(*a.shape, T)  # a[..., i, j] = a[..., i]
        strictly_lower = torch.tril(torch.ones(T, T, dtype=torch.bool, device=a.device), diagonal=-1)
        S = torch.cumsum(a.masked_fill(~strictly_lower, 0.0), dim=-2)
        lower = torch.tril(torch.ones(T, T, dtype=torch.bool, device=a.device))
        return S.masked_fill(~lower, float("-inf"))

    def _forward(self, X, x=None, A=None, B=None, C=None, dt=None):
        batch, length, n_heads, head_dim = x.shape
        n_groups = B.shape[2]
        T = min(self.chunk_size, length)
        pad = (-length) % T
        if pad:  # zero steps at the end: no input, no decay; only positions after `length` see them
            x, B, C = (F.pad(t, (0, 0, 0, 0, 0, pad)) for t in (x, B, C))
            dt = F.pad(dt, (0, 0, 0, pad))
        n_chunks = (length + pad) // T
        r = n_heads // n_groups  # heads per group; a group's heads share B and C
        x = (x * dt.unsqueeze(-1)).reshape(batch, n_chunks, T, n_groups, r, head_dim)
        B = B.reshape(batch, n_chunks, T, n_groups, -1)
        C = C.reshape(batch, n_chunks, T, n_groups, -1)
        a = (dt * A).reshape(batch, n_chunks, T, n_groups, r).permute(0, 3, 4, 1, 2)  # (b, g, r, c, T)
        a_cum = torch.cumsum(a, dim=-1)

        # 1. Within each chunk: y = (C B^T * L) x, with L = exp(segsum(dt A)) the decay mask.
        CB = torch.einsum("bclgn,bcsgn->bgcls", C, B).unsqueeze(2)  # (b, g, 1, c, T, T)
        scores = CB * torch.exp(self.segment_sum(a))  # (b, g, r, c, T, T)
        y_diag = torch.einsum("bgrcls,bcsgrp->bclgrp", scores, x)

        # 2. The state each chunk leaves behind, from its own inputs only.
        decay_to_end = torch.exp(a_cum[..., -1:] - a_cum)  # (b, g, r, c, T)
        states = torch.einsum("bcsgn,bcsgrp->bcgrpn", B, x * decay_to_end.permute(0, 3, 4, 1, 2)[..., None])

        # 3. State entering each chunk: decayed sum over earlier chunks (a masked matmul over chunks).
        states = torch.cat([torch.zeros_like(states[:, :1]), states], dim=1)  # zero initial state
        chunk_decay = torch.exp(self.segment_sum(F.pad(a_cum[..., -1], (1, 0))))  # (b, g, r, c+1, c+1)
        states = torch.einsum("bgrzc,bcgrpn->bzgrpn", chunk_decay, states)[:, :-1]

        # 4. Read the entering state out at each position, decayed to it.
        C_decayed = C.unsqueeze(4) * torch.exp(a_cum).permute(0, 3, 4, 1, 2)[..., None]  # (b, c, T, g, r, n)
        y_off = torch.einsum("bclgrn,bcgrpn->bclgrp", C_decayed, states)
        y = (y_diag + y_off).reshape(batch, n_chunks * T, n_heads, head_dim)[:, :length]
        return X, {"y": y}


@gau_test
def test_ssd_matches_sequential_recurrence(device=None, dtype=None):
    ssd = SSDMinimalDiscrete(32, (0, 1), {}, device=device, dtype=dtype, ssd_chunk_size=4)
    b, L, h, p, g, n = 2, 13, 4, 8, 2, 6  # 13 = 3 full chunks + a padded one
    kw = {"device": device, "dtype": dtype}
    inputs = {"x": torch.randn(b, L, h, p, **kw), "A": -torch.rand(h, **kw) * 4,
              "B": torch.randn(b, L, g, n, **kw), "C": torch.randn(b, L, g, n, **kw),
              "dt": F.softplus(torch.randn(b, L, h, **kw))}
    X = torch.randn(b, L, 32, **kw)
    Y, Z = ssd(X, **inputs)
    assert Y is X
    # Reference: the same SSM as a plain recurrence over positions.
    x, A, dt = inputs["x"], inputs["A"], inputs["dt"]
    Bh, Ch = (inputs[k].repeat_interleave(h // g, dim=2) for k in ("B", "C"))
    state = x.new_zeros(b, h, p, n)
    ys = []
    for t in range(L):
        decay = torch.exp(dt[:, t] * A)[:, :, None, None]
        state = decay * state + (dt[:, t, :, None] * x[:, t]).unsqueeze(-1) * Bh[:, t].unsqueeze(2)
        ys.append(torch.einsum("bhpn,bhn->bhp", state, Ch[:, t]))
    expected = torch.stack(ys, dim=1)
    assert Z["y"].shape == expected.shape
    assert torch.allclose(Z["y"], expected, atol=1e-4, rtol=1e-4)
