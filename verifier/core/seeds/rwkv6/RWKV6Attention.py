"""RWKV6Attention: Finch time mixing, a linear attention with a data-dependent per-channel decay."""

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class RWKV6Attention(GAUBase):
    """Finch time mixing (Peng et al. 2024, sec. 4), per head of `rwkv_head_size` channels:

        wkv_t = diag(u) k_t^T v_t + S_{t-1},   S_t = diag(w_t) S_{t-1} + k_t^T v_t,
        o_t = o_proj(GroupNorm(r_t wkv_t) * silu(g_t)),   w_t = exp(-exp(d + lora_w(ddlerp_w(x_t)))).

    r, k, v, g and the decay input come from data-dependent token shifts (`DDLerpLinear`) whose
    mixes are mu + lora(lerp(x_t, x_{t-1}, mu_x)) (`LerpLinear` with a 5-group `LoRA`). The
    recurrence is evaluated in chunks of `rwkv_chunk_size`: inside a chunk every pair (t, s < t)
    gets its decay exp(sum_{s<j<t} log w_j) from differences of a within-chunk cumulative sum
    (always <= 0, so nothing overflows, and masked before the exp); across chunks the state S is
    carried by a loop over chunks. Position t reads nothing after t, so outputs are exactly causal.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, rwkv_head_size=64,
                 rwkv_mix_rank=32, rwkv_decay_rank=64, rwkv_chunk_size=16, norm_eps=1e-5, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        n_heads = max(1, embed_dim // rwkv_head_size)
        while embed_dim % n_heads:
            n_heads -= 1
        self.n_heads = n_heads
        self.head_size = embed_dim // n_heads
        self.chunk_size = rwkv_chunk_size
        child = {"embed_dim": self.embed_dim, "block_loc": self.block_loc, "kwarg_all": self.kwarg_all}
        # The five data-dependent mixes (r, w, k, v, g): a static part plus a shared-input LoRA.
        self.mix_proj = LerpLinear(**child, output_dim=5 * embed_dim, low_rank_dim=rwkv_mix_rank, groups=5,
                                   **self.factory_kwargs, **self.kwarg_all)
        self.mix_base = nn.Parameter(torch.zeros(5, embed_dim, **self.factory_kwargs))
        self.receptance_proj = DDLerpLinear(**child, output_dim=embed_dim, low_rank_dim=None,
                                            **self.factory_kwargs, **self.kwarg_all)
        self.decay_proj = DDLerpLinear(**child, output_dim=embed_dim, low_rank_dim=rwkv_decay_rank,
                                       **self.factory_kwargs, **self.kwarg_all)
        self.key_proj = DDLerpLinear(**child, output_dim=embed_dim, low_rank_dim=None,
                                     **self.factory_kwargs, **self.kwarg_all)
        self.value_proj = DDLerpLinear(**child, output_dim=embed_dim, low_rank_dim=None,
                                       **self.factory_kwargs, **self.kwarg_all)
        self.gate_proj = DDLerpLinear(**child, output_dim=embed_dim, low_rank_dim=None,
                                      **self.factory_kwargs, **self.kwarg_all)
        self.decay_base = nn.Parameter(torch.zeros(embed_dim, **self.factory_kwargs))
        self.bonus = nn.Parameter(torch.zeros(n_heads, self.head_size, **self.factory_kwargs))
        self.group_norm = nn.GroupNorm(n_heads, embed_dim, eps=norm_eps * self.head_size, **self.factory_kwargs)
        self.o_proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self._init_weights()

    def _init_weights(self):
        """Finch's layer-dependent schedules: mixes, decay speeds from -6 to -1, a zigzag bonus."""
        layer, n_layer = self.block_loc
        depth = layer / max(1, n_layer - 1)  # 0 at the first layer, 1 at the last
        shallowness = 1.0 - layer / n_layer  # 1 at the first layer, ~0 at the last
        D = self.embed_dim
        channel = torch.arange(D, dtype=torch.float32)
        frac = channel / D
        base = frac.pow(shallowness)
        half = frac.pow(0.5 * shallowness)
        mixes = torch.stack([1 - half, 1 - base, 1 - base, 1 - (base + 0.3 * depth), 1 - half])  # r w k v g
        span = channel / max(1, D - 1)
        decay = -6.0 + 5.0 * span.pow(0.7 + 1.3 * depth)
        zigzag = ((channel + 1) % 3 - 1) * 0.1
        bonus = depth * (1.0 - span) + zigzag
        with torch.no_grad():
            self.mix_base.copy_(mixes)
            self.decay_base.copy_(decay)
            self.bonus.copy_(bonus.view(self.n_heads, self.head_size))

    @staticmethod
    def _pairwise_decays(cum_before, cum):
        """exp(cum_before_t - cum_s) for s < t inside each chunk, 0 elsewhere: (..., t, s, K), all <= 1.

        The exponent is masked before the exp, so pairs s >= t (positive exponents) never overflow.
        """
        C = cum.shape[-2]
        strictly_lower = torch.ones(C, C, dtype=torch.bool, device=cum.device).tril(-1)
        gap = cum_before.unsqueeze(-2) - cum.unsqueeze(-3)
        return gap.masked_fill_(~strictly_lower[:, :, None], float("-inf")).exp_()

    class _IntraChunkScores(torch.autograd.Function):
        """scores_ts = sum_k r_tk k_sk exp(cum_before_tk - cum_sk), s < t within a chunk.

        The backward recomputes the (t, s, K) decays instead of keeping them, so a layer stores
        O(L K) for it rather than O(L C K).
        """

        @staticmethod
        def forward(ctx, r, k, cum_before, cum):
            ctx.save_for_backward(r, k, cum_before, cum)
            decays = RWKV6Attention._pairwise_decays(cum_before, cum)
            return decays.mul_(r.unsqueeze(-2)).mul_(k.unsqueeze(-3)).sum(-1)

        @staticmethod
        def backward(ctx, grad_scores):
            r, k, cum_before, cum = ctx.saved_tensors
            weighted = RWKV6Attention._pairwise_decays(cum_before, cum).mul_(grad_scores.unsqueeze(-1))
            grad_r = (weighted * k.unsqueeze(-3)).sum(-2)
            grad_k = weighted.mul_(r.unsqueeze(-2)).sum(-3)
            # d/d cum_before_t = r_t * grad_r_t and d/d cum_s = -k_s * grad_k_s (the exponent's sign).
            return grad_r, grad_k, r * grad_r, -k * grad_k

    def _chunked_wkv(self, r, k, v, log_w, u):
        """o_t = r_t (diag(u) k_t^T v_t + sum_{s<t} diag(prod_{s<j<t} w_j) k_s^T v_s), all (B, H, L, K)."""
        B, H, L, K = r.shape
        C = self.chunk_size
        n = -(-L // C)
        pad = n * C - L
        if pad:  # at the end only: a padded position never precedes a real one
            r, k, v, log_w = (F.pad(t, (0, 0, 0, pad)) for t in (r, k, v, log_w))
        r, k, v, log_w = (t.reshape(B, H, n, C, K) for t in (r, k, v, log_w))
        cum = log_w.cumsum(dim=-2)  # inclusive, within each chunk
        cum_before = cum - log_w  # exclusive: decay from the chunk start up to (not including) t
        scores = self._IntraChunkScores.apply(r, k, cum_before, cum)  # (B, H, n, t, s)
        diagonal = (r * u[None, :, None, None, :] * k).sum(-1, keepdim=True)  # the bonus term
        out = scores @ v + diagonal * v
        # Inter-chunk: the state entering each chunk, carried by a loop over chunks.
        last = cum[..., -1:, :]  # (B, H, n, 1, K) total log decay of each chunk
        chunk_kv = (k * (last - cum).exp()).transpose(-1, -2) @ v  # (B, H, n, K, K)
        chunk_decay = last.transpose(-1, -2).exp()  # (B, H, n, K, 1)
        state = torch.zeros(B, H, K, v.shape[-1], dtype=r.dtype, device=r.device)
        states = []
        for i in range(n):
            states.append(state)
            state = chunk_decay[:, :, i] * state + chunk_kv[:, :, i]
        out = out + (r * cum_before.exp()) @ torch.stack(states, dim=2)
        return out.reshape(B, H, n * C, -1)[:, :, :L]

    def _forward(self, X, **Z):
        B, L, D = X.shape
        delta = F.pad(X, (0, 0, 1, -1)) - X  # x_{t-1} - x_t, zero state before the first token
        mix, _ = self.mix_proj(X, **{**Z, "delta": delta})
        mu_r, mu_w, mu_k, mu_v, mu_g = (mix.view(B, L, 5, D) + self.mix_base).unbind(dim=-2)
        r, _ = self.receptance_proj(X, **{**Z, "mu": mu_r, "delta": delta})
        w, _ = self.decay_proj(X, **{**Z, "mu": mu_w, "delta": delta})
        k, _ = self.key_proj(X, **{**Z, "mu": mu_k, "delta": delta})
        v, _ = self.value_proj(X, **{**Z, "mu": mu_v, "delta": delta})
        g, _ = self.gate_proj(X, **{**Z, "mu": mu_g, "delta": delta})
        log_w = -torch.exp((self.decay_base + w).float())  # log w_t, per channel, < 0
        r, k, v, log_w = (t.float().view(B, L, self.n_heads, self.head_size).transpose(1, 2)
                          for t in (r, k, v, log_w))
        out = self._chunked_wkv(r, k, v, log_w, self.bonus.float())
        out = out.transpose(1, 2).reshape(B * L, D).to(X.dtype)
        out = self.group_norm(out).view(B, L, D) * F.silu(g)
        return self.o_proj(out)


CHILDREN_DECLARATIONS = [
    UnitDecl("LerpLinear", "Linear map of the static token shift x_t + mu (x_{t-1} - x_t); dense or LoRA.",
             ["X", "delta"], ["Y"]),
    UnitDecl("DDLerpLinear", "Linear map of the data-dependent token shift x_t + mu_t (x_{t-1} - x_t).",
             ["X", "mu", "delta"], ["Y"]),
]


@gau_test
def test_rwkv6_attention_matches_the_recurrence(device=None, dtype=None):
    attn = RWKV6Attention(32, (1, 3), {}, device=device, dtype=dtype, rwkv_head_size=16, rwkv_chunk_size=4)
    B, H, L, K = 2, 2, 11, 16
    r, k, v = (torch.randn(B, H, L, K, device=device) for _ in range(3))
    log_w = -torch.rand(B, H, L, K, device=device) * 3
    u = torch.randn(H, K, device=device)
    state = torch.zeros(B, H, K, K, device=device)
    expected = []
    for t in range(L):
        kv = k[:, :, t, :, None] * v[:, :, t, None, :]
        expected.append((r[:, :, t, None, :] @ (u[None, :, :, None] * kv + state)).squeeze(-2))
        state = log_w[:, :, t, :, None].exp() * state + kv
    got = attn._chunked_wkv(r, k, v, log_w, u)
    assert torch.allclose(got, torch.stack(expected, dim=2), atol=1e-4)


@gau_test
def test_rwkv6_attention_is_causal(device=None, dtype=None):
    attn = RWKV6Attention(32, (0, 2), {}, device=device, dtype=dtype, rwkv_head_size=16, rwkv_chunk_size=4)
    X = torch.randn(1, 10, 32, device=device, dtype=dtype)
    Y, _ = attn(X)
    X2 = X.clone()
    X2[:, 5:] = torch.randn_like(X2[:, 5:]) * 3
    Y2, _ = attn(X2)
    assert Y.shape == X.shape and torch.equal(Y[:, :5], Y2[:, :5])


@gau_test
def test_rwkv6_intra_chunk_scores_gradient(device=None, dtype=None):
    r, k = (torch.randn(1, 1, 2, 5, 3, dtype=torch.float64, device=device, requires_grad=True) for _ in range(2))
    log_w = -torch.rand(1, 1, 2, 5, 3, dtype=torch.float64, device=device) * 2
    cum = log_w.cumsum(-2).requires_grad_(True)
    cum_before = (cum - log_w).detach().requires_grad_(True)
    assert torch.autograd.gradcheck(RWKV6Attention._IntraChunkScores.apply, (r, k, cum_before, cum))
