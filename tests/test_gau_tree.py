"""The GAU tree as data: JSON, validation, hashing, renaming and subtree replacement."""

from __future__ import annotations

import pytest
import torch

from verifier.core.gau import GAUNode, GAUTree, TreeError, compose, load_gab
from verifier.core.gau.source import rename_identifiers
from verifier.core.seeds import load_seed

IDENTITY = '''
from verifier.core.gau.base import GAUBase


class {name}(GAUBase):
    """Passes X through{extra}."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        self.factory_kwargs = {{"device": device, "dtype": dtype}}
        super().__init__(embed_dim, block_loc, kwarg_all)

    def _forward(self, X, **Z):
        return X
'''


def identity(name: str, extra: str = "") -> GAUNode:
    return GAUNode(name=name, code=IDENTITY.format(name=name, extra=extra))


def test_valid_seed_has_no_problems():
    assert load_seed("gpt").validate() == []


def test_json_round_trip_is_lossless_and_hash_is_stable():
    tree = load_seed("gpt")
    again = GAUTree.from_json(tree.to_json())
    assert again.to_dict() == tree.to_dict()
    assert again.content_hash() == tree.content_hash() == load_seed("gpt").content_hash()


def test_hash_changes_with_code_but_not_with_spec():
    tree = load_seed("gpt")
    before = tree.content_hash()
    tree.units["GatedMLP"].spec = "a different description"
    assert tree.content_hash() == before
    tree.units["GatedMLP"].code += "\n# changed\n"
    assert tree.content_hash() != before


def test_missing_child_undeclared_child_is_reported():
    tree = load_seed("gpt")
    tree.units["GPT2"].children.append("Ghost")
    assert any("'Ghost' is neither implemented nor declared" in p for p in tree.validate())


def test_declared_but_unimplemented_child_is_allowed_only_on_request():
    tree = load_seed("gpt")
    del tree.units["GatedMLP"]
    assert any("declared but not implemented" in p for p in tree.validate())
    assert tree.validate(allow_unimplemented=True) == []
    assert tree.unimplemented() == ["GatedMLP"]
    with pytest.raises(TreeError):
        compose(tree)


def test_cycle_is_reported():
    tree = load_seed("gpt")
    tree.units["RotaryPositionalEmbeddings"].children.append("MHA")
    assert any("cycle" in p and "MHA" in p for p in tree.validate())


def test_unreachable_unit_is_reported():
    tree = load_seed("gpt")
    tree.units["Orphan"] = identity("Orphan")
    assert any("'Orphan' is unreachable" in p for p in tree.validate())


def test_unit_whose_code_lacks_its_class_is_reported():
    tree = load_seed("gpt")
    tree.units["GatedMLP"].code = "x = 1\n"
    assert any("defines no class 'GatedMLP'" in p for p in tree.validate())


@pytest.mark.parametrize("text", ["{", "[]", '{"name": "x"}', '{"format": "other/9", "name": "x", "root": "A", "units": {}}'])
def test_malformed_json_gives_a_clear_error(text):
    with pytest.raises(TreeError):
        GAUTree.from_json(text)


def test_rename_identifiers_touches_names_not_strings():
    code = 'x = MHA(1)  # MHA here\ny = "MHA"\nz = self.MHA\n'
    assert rename_identifiers(code, {"MHA": "Attn"}) == 'x = Attn(1)  # MHA here\ny = "MHA"\nz = self.Attn\n'


def test_rename_unit_keeps_the_tree_runnable():
    tree = load_seed("gpt")
    tree.rename_unit("GatedMLP", "SwiGLU")
    assert "SwiGLU" in tree.units and "GatedMLP" not in tree.units
    assert "SwiGLU" in tree.units["GPT2"].children and "SwiGLU" in tree.declares
    gab, cfg = load_gab(compose(tree))
    block = gab(32, (0, 1), **cfg)
    Y, _ = block(torch.randn(1, 4, 32))
    assert Y.shape == (1, 4, 32)


def test_replace_subtree_drops_exclusive_descendants_and_rewires_parent():
    tree = load_seed("gpt")
    donor = GAUTree(name="donor", root="Mixer", units={"Mixer": identity("Mixer")})
    new = tree.replace_subtree("MHA", donor)
    assert "MHA" not in new.units and "RotaryPositionalEmbeddings" not in new.units
    assert "Mixer" in new.units["GPT2"].children
    assert "self.mha = Mixer(" in new.units["GPT2"].code and "= MHA(" not in new.units["GPT2"].code
    assert new.validate() == []
    assert tree.units["GPT2"].children.count("MHA") == 1  # the original is untouched


def test_replace_subtree_renames_a_clashing_incoming_unit():
    tree = load_seed("gpt")
    # The donor brings its own, different, "RMSNorm": it must not overwrite the kept one.
    donor = GAUTree(name="donor", root="RMSNorm", units={"RMSNorm": identity("RMSNorm", " (donor)")})
    new = tree.replace_subtree("GatedMLP", donor)
    assert new.units["RMSNorm"].code == tree.units["RMSNorm"].code
    assert "RMSNorm_1" in new.units and "RMSNorm_1" in new.units["GPT2"].children
    assert "class RMSNorm_1(GAUBase)" in new.units["RMSNorm_1"].code
    assert new.validate() == []
    gab, cfg = load_gab(compose(new))
    assert gab(32, (0, 1), **cfg)(torch.randn(1, 3, 32))[0].shape == (1, 3, 32)


def test_identical_incoming_unit_is_shared_not_duplicated():
    tree = load_seed("gpt")
    donor = load_seed("gpt").subtree("MHA")
    donor.name = "donor"
    new = tree.replace_subtree("GatedMLP", donor)
    assert sorted(new.units) == ["GPT2", "MHA", "RMSNorm", "RotaryPositionalEmbeddings"]
