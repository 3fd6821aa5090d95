"""RotaryEmbedding: rotate query/key feature pairs by angles of given positions (RoPE)."""

import torch

from verifier.core.gau.base import GAUBase, gau_test


class RotaryEmbedding(GAUBase):
    """Rotary position embeddings (Su et al., 2021) on interleaved pairs (x_{2i}, x_{2i+1}).

    Reads Z['input_emb'] (B, L, H, Dh) and Z['input_pos'] (L,) integer positions, default 0..L-1;
    writes the rotated tensor to Z['output_emb']. TTT passes positions modulo its mini-batch size.
    X passes through unchanged.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, ttt_rope_theta=10000.0,
                 **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.theta = ttt_rope_theta

    def _forward(self, X, input_emb=None, input_pos=None):
        if input_emb is None:
            return X, {}
        B, L, H, Dh = input_emb.shape
        device = input_emb.device
        if input_pos is None:
            input_pos = torch.arange(L, device=device)
        half = Dh // 2
        inv_freq = self.theta ** (-torch.arange(half, device=device, dtype=torch.float32) / half)
        angles = input_pos.to(torch.float32)[:, None] * inv_freq  # (L, Dh / 2)
        cos, sin = angles.cos()[:, None, :], angles.sin()[:, None, :]
        x = input_emb[..., : 2 * half].float()
        x1, x2 = x[..., 0::2], x[..., 1::2]
        rotated = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
        out = torch.cat((rotated.to(input_emb.dtype), input_emb[..., 2 * half:]), dim=-1)
        return X, {"output_emb": out}


@gau_test
def test_rotary_embedding_is_relative(device=None, dtype=None):
    rope = RotaryEmbedding(8, (0, 1), {}, device=device, dtype=dtype)
    X = torch.zeros(1, 4, 8, device=device, dtype=dtype)
    q = torch.randn(1, 1, 1, 8, device=device, dtype=dtype).expand(1, 4, 1, 8)
    k = torch.randn(1, 1, 1, 8, device=device, dtype=dtype).expand(1, 4, 1, 8)
    pos = torch.tensor([0, 1, 5, 6], device=device)
    _, Zq = rope(X, input_emb=q, input_pos=pos)
    _, Zk = rope(X, input_emb=k, input_pos=pos)
    dots = (Zq["output_emb"][0, :, 0] * Zk["output_emb"][0, [0, 0, 2, 2], 0]).sum(-1)
    assert torch.allclose(dots[1], dots[3], atol=1e-5)  # same offset, same score
    assert torch.allclose(Zq["output_emb"].norm(dim=-1), q.norm(dim=-1), atol=1e-5)
