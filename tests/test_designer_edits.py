"""How the implementer edits trees: opening the units a proposal replaces, writing a unit in, reusing
parents' units by name, and the tree the coder starts from."""

from __future__ import annotations

from designer.core.design_edits import (
    adopt_from_parents,
    lines_of_code,
    open_unit,
    prune_declarations,
    put_unit,
)
from designer.core.implementation import start_tree
from designer.core.proposal import Proposal, UnitChange
from verifier.core.gau.composer import compose
from verifier.core.seeds import load_seed

SCALE = '''"""Scale: a learned per-channel scale."""

import torch
from torch import nn

from verifier.core.gau.base import GAUBase, UnitDecl


class Scale(GAUBase):
    """Y = w * Child(X)."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, scale_init=1.0, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.w = nn.Parameter(torch.full((embed_dim,), scale_init, **self.factory_kwargs))
        self.inner = {child}(embed_dim=self.embed_dim, block_loc=self.block_loc, kwarg_all=self.kwarg_all,
                             **self.factory_kwargs, **self.kwarg_all)

    def _forward(self, X, **Z):
        H, Z = self.inner(X, **Z)
        return self.w * H, Z


CHILDREN_DECLARATIONS = [UnitDecl("{child}", "the wrapped mixer", ["X"], ["Y"])]
'''


def proposal(units, base="gpt"):
    return Proposal(title="t", motivation="m", units=units, pseudocode="p", expected_effect="e", base_parent=base)


def test_open_unit_replaces_a_unit_by_a_declaration_and_renames_its_callers():
    gpt = load_seed("gpt")
    tree = open_unit(gpt, "MHA", "ScaledAttention", "attention with a scale")
    assert "MHA" not in tree.units and "RotaryPositionalEmbeddings" not in tree.units  # only MHA used it
    assert tree.unimplemented() == ["ScaledAttention"]
    assert "self.mha = ScaledAttention(" in tree.units["GPT2"].code and "= MHA(" not in tree.units["GPT2"].code
    decl = tree.declares["ScaledAttention"]
    assert decl.requirements == "attention with a scale" and decl.inputs == ["X"] and decl.outputs == ["Y"]
    assert gpt.units["GPT2"].code != tree.units["GPT2"].code  # the parent is untouched
    assert tree.validate(allow_unimplemented=True) == []


def test_a_unit_used_twice_is_opened_once_for_both_uses():
    tree = open_unit(load_seed("gpt"), "RMSNorm", "DyTNorm", "dynamic tanh")
    assert tree.units["GPT2"].code.count("DyTNorm(") == 2 and tree.unimplemented() == ["DyTNorm"]


def test_written_unit_declares_children_and_parents_supply_them_by_name():
    gpt, mamba = load_seed("gpt"), load_seed("mamba2")
    tree = open_unit(gpt, "MHA", "Scale", "scaled mixer")
    children = put_unit(tree, "Scale", SCALE.replace("{child}", "Mamba2Layer"))
    assert children == ["Mamba2Layer"] and tree.unimplemented() == ["Mamba2Layer"]
    adopted = adopt_from_parents(tree, [gpt, mamba])
    assert set(adopted) == {"Mamba2Layer", "SSDMinimalDiscrete"}
    prune_declarations(tree)
    assert tree.unimplemented() == [] and tree.validate() == []
    assert "Mamba2Layer" in compose(tree)
    # A child nobody implements stays on the to-do list.
    fresh = open_unit(gpt, "MHA", "Scale", "scaled mixer")
    put_unit(fresh, "Scale", SCALE.replace("{child}", "BrandNewMixer"))
    assert adopt_from_parents(fresh, [gpt, mamba]) == [] and fresh.unimplemented() == ["BrandNewMixer"]


def test_grafted_units_are_renamed_when_their_names_clash():
    gpt, mamba = load_seed("gpt"), load_seed("mamba2")
    tree = open_unit(gpt, "MHA", "Scale", "scaled mixer")
    put_unit(tree, "Scale", SCALE.replace("{child}", "Mamba2Layer"))
    # A different unit already called SSDMinimalDiscrete lives in the tree: the graft's one is renamed.
    tree.units["SSDMinimalDiscrete"] = load_seed("gpt").units["RMSNorm"]
    tree.units["SSDMinimalDiscrete"].name = "SSDMinimalDiscrete"
    adopt_from_parents(tree, [mamba])
    assert "SSDMinimalDiscrete_1" in tree.units["Mamba2Layer"].children


def test_start_tree_for_each_mode():
    gpt, mamba = load_seed("gpt"), load_seed("mamba2")
    tree, replaced = start_tree(proposal([UnitChange("GatedMLP", "ConvMLP", "c")]), "mutation", [gpt], "Conv")
    assert tree.name == "Conv" and tree.unimplemented() == ["ConvMLP"] and replaced["ConvMLP"][0] == "GatedMLP"
    # Crossover: naming the other parent's unit as new_name reuses it, with its subtree.
    tree, _ = start_tree(proposal([UnitChange("MHA", "Mamba2Layer", "reuse")]), "crossover", [gpt, mamba], "X")
    assert tree.unimplemented() == [] and "SSDMinimalDiscrete" in tree.units and tree.validate() == []
    # Rewriting a unit in place under its own name must not bring the parent's version back.
    tree, _ = start_tree(proposal([UnitChange("GatedMLP", "GatedMLP", "rewrite")]), "mutation", [gpt], "R")
    assert tree.unimplemented() == ["GatedMLP"]
    tree, _ = start_tree(proposal([UnitChange(None, "NewBlock", "from scratch")], base=None), "scratch", [], "S")
    assert tree.root == "NewBlock" and tree.unimplemented() == ["NewBlock"] and tree.units == {}


def test_lines_of_code_skip_blanks_and_comments():
    assert lines_of_code("a = 1\n\n# note\n  b = 2  # tail\n") == 2
