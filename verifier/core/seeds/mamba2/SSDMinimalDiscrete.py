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
        self._masks: dict = {}

    def segment_sum(self, a):
        """S[..., i, j] = a[..., j+1] + ... + a[..., i] for i >= j, -inf above the diagonal.

        Built as a cumulative sum of a masked copy (not a difference of prefix sums), so exp(S) is
        exactly 1 on the diagonal, exactly 0 above it, and accurate for long segments.
        """
        T = a.size(-1)
        key = (T, a.device)
        if key not in self._masks:
            ones = torch.ones(T, T, dtype=torch.bool, device=a.device)
            self._masks[key] = (~torch.tril(ones, diagonal=-1), ~torch.tril(ones))
        not_strictly_lower, not_lower = self._masks[key]
        a = a.unsqueeze(-1).expand(*a.shape, T)  # a[..., i, j] = a[..., i]
        S = torch.cumsum(a.masked_fill(not_strictly_lower, 0.0), dim=-2)
        return S.masked_fill(not_lower, float("-inf"))

    def _forward(self, X, x=None, A=None, B=None, C=None, dt=None):
        batch, length, n_heads, head_dim = x.shape
        n_groups, d_state = B.shape[2], B.shape[3]
        T = min(self.chunk_size, length)
        pad = (-length) % T
        if pad:  # zero steps at the end: no input, no decay; only positions after `length` see them
            x, B, C = (F.pad(t, (0, 0, 0, 0, 0, pad)) for t in (x, B, C))
            dt = F.pad(dt, (0, 0, 0, pad))
        n = (length + pad) // T  # chunks
        r = n_heads // n_groups  # heads per group; a group's heads share B and C
        # Layout (batch, group, head-in-group, chunk, position-in-chunk, features): plain matmuls below.
        x = (x * dt.unsqueeze(-1)).reshape(batch, n, T, n_groups, r, head_dim).permute(0, 3, 4, 1, 2, 5)
        x = x.contiguous()  # one copy, shared by both matmuls below
        B = B.reshape(batch, n, T, n_groups, d_state).permute(0, 3, 1, 2, 4).unsqueeze(2)  # (b, g, 1, n, T, N)
        C = C.reshape(batch, n, T, n_groups, d_state).permute(0, 3, 1, 2, 4).unsqueeze(2)
        # Log-decays (b, g, r, n, T) and their sums in float32; decay factors are cast to x's dtype.
        a = (dt.float() * A.float()).reshape(batch, n, T, n_groups, r).permute(0, 3, 4, 1, 2)
        a_cum = torch.cumsum(a, dim=-1)
        dtype = x.dtype

        # 1. Within each chunk: y = (C B^T * L) x, with L = exp(segsum(dt A)) the decay mask.
        scores = (C @ B.transpose(-1, -2)) * torch.exp(self.segment_sum(a)).to(dtype)  # (b, g, r, n, T, T)
        y = scores @ x  # (b, g, r, n, T, P)

        if n > 1:
            # 2. The state each chunk leaves behind, from its own inputs only: (N, P) per head.
            decay_to_end = torch.exp(a_cum[..., -1:] - a_cum).unsqueeze(-1).to(dtype)  # (b, g, r, n, T, 1)
            states = (B * decay_to_end).transpose(-1, -2) @ x  # (b, g, r, n, N, P)
            # 3. State entering chunk z: sum over c < z of exp(total log-decay of chunks c+1..z-1) * states[c],
            #    a masked matmul over chunks (exactly 0 for c >= z).
            chunk_segsum = self.segment_sum(F.pad(a_cum[..., -1], (1, 0)))  # (b, g, r, n+1, n+1)
            M = torch.exp(chunk_segsum[..., :n, 1:]).to(dtype)  # M[z, c] = exp(S[z, c+1])
            entering = (M @ states.flatten(-2)).view_as(states)
            # 4. Read the entering state out at each position, decayed to it.
            y = y + (C * torch.exp(a_cum).unsqueeze(-1).to(dtype)) @ entering

        y = y.permute(0, 3, 4, 1, 2, 5).reshape(batch, n * T, n_heads, head_dim)[:, :length]
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
