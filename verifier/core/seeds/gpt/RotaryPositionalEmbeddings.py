"""RotaryPositionalEmbeddings: rotate query/key feature pairs by position-dependent angles (RoPE)."""

import torch

from verifier.core.gau.base import GAUBase, gau_test


class RotaryPositionalEmbeddings(GAUBase):
    """Rotary position embeddings (Su et al., 2021).

    Reads Z['input_emb'] of shape (B, L, H, Dh) and optional Z['input_pos'] (B, L) positions; writes
    the rotated tensor to Z['output_emb']. X passes through unchanged. The cos/sin table is cached
    and grown on demand, so any sequence length works.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, rotary_emb_base=10000,
                 rotary_emb_dim=None, max_seq_len=4096, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.base = rotary_emb_base
        self.dim = rotary_emb_dim
        self.max_seq_len = max_seq_len
        self._cache: dict = {}

    def _table(self, dim, length, device):
        key = (dim, device)
        cached = self._cache.get(key)
        if cached is None or cached[0].shape[0] < length:
            n = max(length, self.max_seq_len)
            inv_freq = 1.0 / (self.base ** (torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim))
            angles = torch.outer(torch.arange(n, device=device, dtype=torch.float32), inv_freq)
            cached = (angles.cos(), angles.sin())
            self._cache[key] = cached
        return cached

    def _forward(self, X, input_emb=None, input_pos=None):
        if input_emb is None:
            return X, {}
        B, L, H, Dh = input_emb.shape
        dim = self.dim or Dh
        dim -= dim % 2
        cos, sin = self._table(dim, L if input_pos is None else int(input_pos.max()) + 1, input_emb.device)
        if input_pos is None:
            cos, sin = cos[:L].view(1, L, 1, -1), sin[:L].view(1, L, 1, -1)
        else:
            cos, sin = cos[input_pos].unsqueeze(2), sin[input_pos].unsqueeze(2)
        x = input_emb[..., :dim].float()
        x1, x2 = x[..., 0::2], x[..., 1::2]
        rotated = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
        out = torch.cat((rotated.to(input_emb.dtype), input_emb[..., dim:]), dim=-1)
        return X, {"output_emb": out}


@gau_test
def test_rotary_preserves_norm(device=None, dtype=None):
    rope = RotaryPositionalEmbeddings(32, (0, 1), {}, device=device, dtype=dtype)
    X = torch.randn(1, 8, 32, device=device, dtype=dtype)
    q = torch.randn(1, 8, 2, 16, device=device, dtype=dtype)
    _, Z = rope(X, input_emb=q)
    assert torch.allclose(Z["output_emb"].norm(dim=-1), q.norm(dim=-1), atol=1e-4)
