"""LoRA: the low-rank tanh bottleneck Finch uses to make its mixing and decay data-dependent."""

import torch
from torch import nn

from verifier.core.gau.base import GAUBase, gau_test


class LoRA(GAUBase):
    """Y = tanh(X A) B with A: embed_dim -> groups * low_rank_dim and B block-diagonal over groups.

    Finch (Peng et al. 2024, sec. 4) writes lora(x) = lambda + tanh(x A) B; the offset lambda is
    kept by the caller, so this unit has no bias. With `groups` > 1 the rank-`low_rank_dim` codes
    of each group map to their own slice of the output (Finch's five token-shift mixes share one
    call this way). `output_dim`, `low_rank_dim` and `groups` are per-instance sizes the parent
    passes, not hyper-parameters.
    """

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, *, output_dim, low_rank_dim,
                 groups, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        if output_dim % groups:
            raise ValueError(f"LoRA output_dim {output_dim} is not a multiple of groups {groups}")
        self.groups = groups
        self.low_rank_dim = low_rank_dim
        self.down = nn.Linear(embed_dim, groups * low_rank_dim, bias=False, **self.factory_kwargs)
        self.up = nn.Linear(low_rank_dim, output_dim, bias=False, **self.factory_kwargs)

    def _forward(self, X, **Z):
        codes = torch.tanh(self.down(X))
        if self.groups == 1:
            return self.up(codes)
        codes = codes.unflatten(-1, (self.groups, self.low_rank_dim))
        weight = self.up.weight.view(self.groups, -1, self.low_rank_dim)  # (groups, out/groups, rank)
        return torch.einsum("...gr,gor->...go", codes, weight).flatten(-2)


@gau_test
def test_lora_groups_are_independent(device=None, dtype=None):
    lora = LoRA(16, (0, 1), {}, device=device, dtype=dtype, output_dim=12, low_rank_dim=4, groups=3)
    X = torch.randn(2, 5, 16, device=device, dtype=dtype)
    Y, _ = lora(X)
    assert Y.shape == (2, 5, 12)
    with torch.no_grad():
        lora.up.weight[4:8].zero_()  # the second group's output rows
    Y2, _ = lora(X)
    assert torch.equal(Y2[..., 4:8], torch.zeros_like(Y2[..., 4:8]))
    assert torch.allclose(Y2[..., :4], Y[..., :4]) and torch.allclose(Y2[..., 8:], Y[..., 8:])
