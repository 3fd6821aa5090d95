"""Roles of units in their parents, inferred from code and declarations without running anything,
and declarations kept consistent with the code."""

from __future__ import annotations

import pytest

from verifier.core.gau import GAUTree
from verifier.core.gau.base import UnitDecl
from verifier.core.gau.declarations import (
    code_declarations,
    inconsistent_declarations,
    rewrite_declarations,
    sync_declarations,
)
from verifier.core.gau.roles import (
    BLOCK,
    CHANNEL_MIXER,
    NORMALISATION,
    OTHER,
    POSITIONAL,
    TOKEN_MIXER,
    assign_roles,
    infer_role,
    role_problems,
    store_roles,
    text_role,
)
from verifier.core.gau.tree import GAUNode
from verifier.core.seeds import available_seeds, load_seed

EXPECTED = {
    "gpt": {"MHA": TOKEN_MIXER, "GatedMLP": CHANNEL_MIXER, "RMSNorm": NORMALISATION,
            "RotaryPositionalEmbeddings": POSITIONAL},
    "retnet": {"MultiScaleRetention": TOKEN_MIXER, "RetNetMLP": CHANNEL_MIXER, "RMSNorm": NORMALISATION},
    "mamba2": {"Mamba2Layer": TOKEN_MIXER, "SSDMinimalDiscrete": TOKEN_MIXER, "RMSNorm": NORMALISATION},
    "rwkv6": {"RWKV6Attention": TOKEN_MIXER, "RWKV6FeedForward": CHANNEL_MIXER, "LerpLinear": OTHER},
    "ttt": {"Conv": TOKEN_MIXER, "TTTLinear": TOKEN_MIXER, "SwiGluMLP": CHANNEL_MIXER,
            "RotaryEmbedding": POSITIONAL},
}

HEADER = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n\n"
INIT = ("    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):\n"
        "        super().__init__(embed_dim, block_loc, kwarg_all)\n"
        "        self.proj = nn.Linear(embed_dim, embed_dim)\n")
BODIES = {
    "attention": "        q = k = v = X.unsqueeze(1)\n"
                 "        return F.scaled_dot_product_attention(q, k, v, is_causal=True).squeeze(1)\n",
    "scan": "        return torch.cumsum(self.proj(X), dim=1) / 2\n",
    "mlp": "        return self.proj(F.gelu(self.proj(X)))\n",
    "norm": "        return X * torch.rsqrt(X.pow(2).mean(-1, keepdim=True) + 1e-6)\n",
    "rotary": "        inv_freq = 1.0 / (10000 ** torch.arange(0, 4, 2))\n"
              "        return X * torch.cos(inv_freq).sum()\n",
    "nothing": "        return X\n",
}


def unit_code(name: str, body: str) -> str:
    return f"{HEADER}class {name}(GAUBase):\n{INIT}\n    def _forward(self, X, **Z):\n{body}"


def one_child_tree(child: str, body: str, requirements: str = "") -> GAUTree:
    root = unit_code("Root", "        return self.c(X)\n") + (
        f"\n\nCHILDREN_DECLARATIONS = [UnitDecl({child!r}, {requirements!r}, ['X'], ['Y'])]\n")
    return GAUTree(
        name="t", root="Root",
        units={"Root": GAUNode("Root", root, children=[child]), child: GAUNode(child, unit_code(child, body))},
        declares={child: UnitDecl(child, requirements, ["X"], ["Y"])},
    )


@pytest.mark.parametrize("seed", sorted(EXPECTED))
def test_the_seeds_units_have_their_known_roles(seed):
    if seed not in available_seeds():
        pytest.skip("seed missing")
    tree = load_seed(seed)
    roles = assign_roles(tree)
    assert roles[tree.root] == BLOCK
    for unit, role in EXPECTED[seed].items():
        assert roles[unit] == role, (unit, infer_role(tree, unit))
    assert role_problems(tree) == []
    assert inconsistent_declarations(tree) == []


@pytest.mark.parametrize(("body", "role"), [
    ("attention", TOKEN_MIXER), ("scan", TOKEN_MIXER), ("mlp", CHANNEL_MIXER), ("norm", NORMALISATION),
    ("rotary", POSITIONAL), ("nothing", OTHER),
])
def test_a_unit_with_a_meaningless_name_is_judged_by_its_code(body, role):
    tree = one_child_tree("Part7", BODIES[body])
    guess = infer_role(tree, "Part7")
    assert guess.role == role, guess.evidence


def test_a_renamed_copy_of_a_seed_unit_keeps_the_seed_role():
    tree = load_seed("gpt")
    tree.rename_unit("RMSNorm", "RMSNorm_1")
    tree.units["RMSNorm_1"].code += "\n# edited\n"  # no longer the seed's exact code
    assert infer_role(tree, "RMSNorm_1").role == NORMALISATION


def test_the_declaration_speaks_when_code_and_name_are_silent():
    tree = one_child_tree("Part7", BODIES["nothing"], "Position-wise feed-forward network.")
    assert infer_role(tree, "Part7").role == CHANNEL_MIXER


@pytest.mark.parametrize(("text", "role"), [
    ("Multi-head causal self-attention with rotary position embeddings.", TOKEN_MIXER),
    ("Short causal depthwise convolution over time on RMS-normalised input.", TOKEN_MIXER),
    ("Finch channel mixing: token-shifted squared-ReLU MLP with a receptance gate.", CHANNEL_MIXER),
    ("Root-mean-square normalisation over the feature axis.", NORMALISATION),
    ("Position-wise feed-forward network.", CHANNEL_MIXER),
    ("RotaryPositionalEmbeddings", POSITIONAL),
    ("Low-rank projection Y = tanh(X A) B.", None),
    ("", None),
])
def test_text_names_the_role_it_mentions_first(text, role):
    assert text_role(text) == role


def test_roles_are_stored_in_the_tree_json():
    tree = store_roles(load_seed("retnet"))
    again = GAUTree.from_json(tree.to_json())
    assert again.metadata["roles"]["MultiScaleRetention"] == TOKEN_MIXER
    assert again.metadata["roles"]["RetNet"] == BLOCK


def test_a_block_without_a_token_mixer_makes_no_sense():
    tree = one_child_tree("Part7", BODIES["mlp"], "Causal multi-scale retention.")
    problems = role_problems(tree)
    assert "no unit mixes information across positions" in problems
    assert any("declaration describes a token-mixer" in p for p in problems)


def test_declarations_in_code_are_rewritten_to_the_children():
    tree = one_child_tree("Part7", BODIES["attention"], "Attention.")
    tree.units["Root"].code = tree.units["Root"].code.replace("'Part7'", "'OldChild'")
    assert inconsistent_declarations(tree) == ["Root declares ['OldChild'] but its children are ['Part7']"]
    sync_declarations(tree)
    assert code_declarations(tree.units["Root"].code) == ["Part7"]
    assert inconsistent_declarations(tree) == []
    assert "class Root(GAUBase)" in tree.units["Root"].code


def test_consistent_seeds_are_left_exactly_as_written():
    for seed in available_seeds():
        tree = load_seed(seed)
        before = {n: u.code for n, u in tree.units.items()}
        sync_declarations(tree)
        assert {n: u.code for n, u in tree.units.items()} == before


def test_code_without_declarations_is_not_given_any():
    code = unit_code("Part7", BODIES["mlp"])
    assert rewrite_declarations(code, [UnitDecl("X1")]) == code
