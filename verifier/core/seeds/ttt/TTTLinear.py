"""TTTLinear: a sequence layer whose hidden state is a linear model trained while it reads (TTT-Linear)."""

import torch
import torch.nn.functional as F
from torch import nn

from verifier.core.gau.base import GAUBase, UnitDecl, gau_test


class TTTLinear(GAUBase):
    """TTT-Linear (Sun et al. 2024, secs. 2.1-2.7), per head of `ttt_head_dim` channels.

    The state is an inner model f(x) = x + LN(x W + b). For each mini-batch of `ttt_mini_batch`
    tokens it takes one gradient step from the state W0, b0 reached after the previous mini-batch,
    on the reconstruction loss l_j = ||LN(k_j W0 + b0) - (v_j - k_j)||^2 / 2:

        W_t = W0 - sum_{j<=t} eta_tj k_j^T G_j,   eta_tj = max(0, 1/(t'+1) + a_t') * base_lr * sigmoid(theta x_j) / d,

    with G_j = dl_j/dz, t' the index of t in its mini-batch, a learnable per-index offset and a
    learnable per-head gate theta. The output is z_t = q_t + LN(q_t W_t + b_t), computed in the dual
    form: q_t W_t = q_t W0 - sum_{j<=t} eta_tj (q_t . k_j) G_j with a triangular mask, so W_t is
    never materialised; the state carries across mini-batches in a loop over them. q and k are
    rotated with positions modulo the mini-batch size. A ragged last mini-batch is padded at the end
    only; a position reads only earlier or equal positions, so outputs are exactly causal.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, ttt_head_dim=64,
                 ttt_mini_batch=16, ttt_base_lr=1.0, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        n_heads = max(1, embed_dim // ttt_head_dim)
        while embed_dim % n_heads:
            n_heads -= 1
        self.n_heads = n_heads
        self.head_dim = embed_dim // n_heads
        self.mini_batch = ttt_mini_batch
        self.base_lr = ttt_base_lr
        self.eps = 1e-6
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self.o_proj = nn.Linear(embed_dim, embed_dim, bias=False, **self.factory_kwargs)
        self.inner_lr_proj = nn.Linear(embed_dim, n_heads, bias=True, **self.factory_kwargs)
        self.token_lr_offset = nn.Parameter(torch.zeros(ttt_mini_batch, **self.factory_kwargs))
        self.inner_weight = nn.Parameter(torch.zeros(n_heads, self.head_dim, self.head_dim, **self.factory_kwargs))
        self.inner_bias = nn.Parameter(torch.zeros(n_heads, 1, self.head_dim, **self.factory_kwargs))
        self.inner_norm_weight = nn.Parameter(torch.ones(n_heads, 1, self.head_dim, **self.factory_kwargs))
        self.inner_norm_bias = nn.Parameter(torch.zeros(n_heads, 1, self.head_dim, **self.factory_kwargs))
        self.post_norm = nn.LayerNorm(embed_dim, eps=1e-6, **self.factory_kwargs)
        self.rotary_emb = RotaryEmbedding(embed_dim=self.embed_dim, block_loc=self.block_loc,
                                          kwarg_all=self.kwarg_all, **self.factory_kwargs, **self.kwarg_all)
        self._init_weights()

    def _init_weights(self):
        """The reference TTT init: W0 ~ N(0, 0.02), b0 = 0, identity inner LayerNorm, 1/(t'+1) token scale."""
        with torch.no_grad():
            nn.init.normal_(self.inner_weight, mean=0.0, std=0.02)
            nn.init.zeros_(self.inner_bias)
            nn.init.ones_(self.inner_norm_weight)
            nn.init.zeros_(self.inner_norm_bias)
            nn.init.zeros_(self.token_lr_offset)

    def _inner_norm(self, z):
        """LayerNorm of the inner model without its affine part; returns (normalised, 1 / std)."""
        var, mean = torch.var_mean(z, dim=-1, correction=0, keepdim=True)
        inv_std = torch.rsqrt(var + self.eps)
        return (z - mean) * inv_std, inv_std

    def _reconstruction_grad(self, z, offset, gamma):
        """dl/dz for l = ||gamma * LN(z) + offset||^2 / 2 with offset = beta - target, in closed form
        (the LayerNorm backward)."""
        normed, inv_std = self._inner_norm(z)
        grad_normed = torch.addcmul(offset, gamma, normed) * gamma
        centred = grad_normed - grad_normed.mean(-1, keepdim=True)
        return inv_std * torch.addcmul(centred, normed, (grad_normed * normed).mean(-1, keepdim=True), value=-1.0)

    def _forward(self, X, **Z):
        B, L, D = X.shape
        H, d, b = self.n_heads, self.head_dim, self.mini_batch
        q, k, v = (proj(X).view(B, L, H, d) for proj in (self.q_proj, self.k_proj, self.v_proj))
        position = torch.arange(L, device=X.device) % b
        _, Zq = self.rotary_emb(X, **{**Z, "input_emb": q, "input_pos": position})
        _, Zk = self.rotary_emb(X, **{**Z, "input_emb": k, "input_pos": position})
        q, k = Zq["output_emb"], Zk["output_emb"]
        lr = (self.base_lr / d) * torch.sigmoid(self.inner_lr_proj(X).float())  # (B, L, H), per source token
        n = -(-L // b)
        pad = n * b - L  # at the end only: a padded position never precedes a real one

        def by_mini_batch(t):  # (B, L, H, e) -> (n, B * H, b, e), mini-batches first for the loop
            t = F.pad(t.float(), (0, 0, 0, 0, 0, pad)) if pad else t.float()
            return t.reshape(B, n, b, H, -1).permute(1, 0, 3, 2, 4).reshape(n, B * H, b, -1)

        q, k, v = by_mini_batch(q), by_mini_batch(k), by_mini_batch(v)
        lr = by_mini_batch(lr.unsqueeze(-1)).transpose(-1, -2)  # (n, B * H, 1, b): eta's source-token factor
        token_scale = (1.0 / torch.arange(1, b + 1, device=X.device) + self.token_lr_offset.float()).clamp_min(0)
        eta = (token_scale[:, None] * lr).tril()  # eta[t, j] for j <= t, exact zeros above the diagonal
        dual = eta * (q @ k.transpose(-1, -2) + 1.0)  # weight of G_j in q_t W_t + b_t
        eta_last = eta[..., -1:, :]  # (n, B * H, 1, b): the step that ends each mini-batch
        key_step = (k * eta_last.transpose(-1, -2)).transpose(-1, -2)  # W_next = W - key_step @ G
        keys_queries = torch.cat((k, q), dim=-2)

        def per_head(param):  # (H, ...) -> (B * H, ...), matching the (batch, head) order above
            return param.float().expand(B, *param.shape).reshape(B * H, *param.shape[1:])

        gamma, beta = per_head(self.inner_norm_weight), per_head(self.inner_norm_bias)
        offset = beta - (v - k)  # the reconstruction target is v - k
        weight, bias = per_head(self.inner_weight), per_head(self.inner_bias)
        outs = []
        for i in range(n):
            z_k, z_q = torch.baddbmm(bias, keys_queries[i], weight).split(b, dim=-2)
            grad = self._reconstruction_grad(z_k, offset[i], gamma)
            outs.append(torch.baddbmm(z_q, dual[i], grad, alpha=-1.0))
            if i + 1 < n:
                weight = torch.baddbmm(weight, key_step[i], grad, alpha=-1.0)
                bias = torch.baddbmm(bias, eta_last[i], grad, alpha=-1.0)
        out = q + torch.addcmul(beta, gamma, self._inner_norm(torch.stack(outs))[0])
        out = out.view(n, B, H, b, d).permute(1, 0, 3, 2, 4).reshape(B, n * b, D)[:, :L].to(X.dtype)
        return self.o_proj(self.post_norm(out))


CHILDREN_DECLARATIONS = [
    UnitDecl("RotaryEmbedding", "Rotate Z['input_emb'] (B, L, H, Dh) by Z['input_pos'] positions into Z['output_emb'].",
             ["input_emb", "input_pos"], ["output_emb"]),
]


@gau_test
def test_ttt_linear_dual_form_matches_sequential_updates(device=None, dtype=None):
    ttt = TTTLinear(16, (0, 1), {}, device=device, dtype=dtype, ttt_head_dim=8, ttt_mini_batch=4)
    with torch.no_grad():
        ttt.inner_weight.normal_(0, 0.3)
        ttt.inner_norm_weight.uniform_(0.5, 1.5)
        ttt.token_lr_offset.uniform_(-0.1, 0.1)
    B, H, d, b = 2, 2, 8, 4
    k, q, v = (torch.randn(B, H, b, d, device=device) for _ in range(3))
    eta = torch.rand(B, H, b, b, device=device).tril()
    gamma, beta = ttt.inner_norm_weight, ttt.inner_norm_bias
    W0, b0 = ttt.inner_weight.expand(B, H, d, d), ttt.inner_bias.expand(B, H, 1, d)
    grad = ttt._reconstruction_grad(k @ W0 + b0, beta - (v - k), gamma)
    # Autograd agrees with the closed-form gradient of the reconstruction loss.
    z = (k @ W0 + b0).detach().requires_grad_(True)
    loss = 0.5 * (gamma * ttt._inner_norm(z)[0] + beta - (v - k)).square().sum()
    (auto,) = torch.autograd.grad(loss, z)
    assert torch.allclose(grad, auto, atol=1e-4)
    # Dual form == explicit W_t = W0 - sum_{j<=t} eta_tj k_j^T G_j.
    dual = (q @ W0 + b0) - (eta * (q @ k.transpose(-1, -2) + 1)) @ grad
    for t in range(b):
        W_t = W0 - (k.transpose(-1, -2) * eta[:, :, t, None, :]) @ grad
        b_t = b0 - (eta[:, :, t, :, None] * grad).sum(-2, keepdim=True)
        assert torch.allclose(dual[:, :, t:t + 1], q[:, :, t:t + 1] @ W_t + b_t, atol=1e-4)


@gau_test
def test_ttt_linear_ragged_length_is_causal(device=None, dtype=None):
    ttt = TTTLinear(16, (0, 1), {}, device=device, dtype=dtype, ttt_head_dim=8, ttt_mini_batch=4)
    X = torch.randn(1, 11, 16, device=device, dtype=dtype)
    Y, _ = ttt(X)
    for t in (2, 5, 9):
        X2 = X.clone()
        X2[:, t + 1:] = torch.randn_like(X2[:, t + 1:]) * 5
        Y2, _ = ttt(X2)
        assert torch.equal(Y[:, :t + 1], Y2[:, :t + 1])
    Y_prefix, _ = ttt(X[:, :6])  # a shorter input reproduces the prefix up to rounding
    assert Y.shape == X.shape and torch.allclose(Y_prefix, Y[:, :6], atol=1e-5)
