"""Mutation and crossover between seeds give trees that compose and train (forward/backward)."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from verifier.core.gau import compose, load_gab
from verifier.core.gau.operators import OperatorError, crossover, mutate, random_mutation
from verifier.core.model import GenesysLM, LMConfig
from verifier.core.seeds import available_seeds, load_seed

PAIRS = list(itertools.permutations(available_seeds(), 2))


def forward_backward(tree) -> None:
    gab, cfg = load_gab(compose(tree), tree.name)
    torch.manual_seed(0)
    model = GenesysLM(LMConfig(vocab_size=128, d_model=64, n_block=2, gab_config=cfg), gab)
    ids = torch.randint(0, 128, (2, 20))
    out = model(ids, labels=ids)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.skipif(not PAIRS, reason="needs two seeds")
@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_random_mutation_between_seeds_composes_and_trains(a, b):
    parent, donor = load_seed(a), load_seed(b)
    child = random_mutation(parent, [donor], random.Random(7))
    assert child.metadata["operator"] == "mutation"
    assert child.content_hash() != parent.content_hash()
    assert child.validate() == []
    forward_backward(child)


@pytest.mark.skipif(not PAIRS, reason="needs two seeds")
@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_crossover_between_seeds_composes_and_trains(a, b):
    child = crossover(load_seed(a), load_seed(b), random.Random(3))
    assert child.metadata["parents"] == [a, b]
    donor_units = {load_seed(b).units[n].content_hash() for n in load_seed(b).implemented()}
    assert donor_units & set(child.unit_hashes().values()), "nothing of the second parent was grafted"
    forward_backward(child)


def test_incompatible_graft_fails_with_a_clear_error():
    gpt = load_seed("gpt")
    # The rotary unit reads Z['input_emb'] and writes Z['output_emb']: it cannot stand for an MLP.
    with pytest.raises(OperatorError, match="cannot replace"):
        mutate(gpt, "GatedMLP", gpt, "RotaryPositionalEmbeddings")


def test_root_cannot_be_swapped():
    gpt = load_seed("gpt")
    with pytest.raises(OperatorError, match="root"):
        mutate(gpt, "GPT2", gpt, "GatedMLP")


def test_graft_that_breaks_composition_is_refused():
    gpt = load_seed("gpt")
    donor = load_seed("gpt")
    donor.name = "broken"
    donor.units["GatedMLP"].code = donor.units["GatedMLP"].code.replace("mlp_multiple_of=64", "mlp_multiple_of=32")
    donor.units["GatedMLP"].args["mlp_multiple_of"] = 32
    with pytest.raises(OperatorError, match="disagree"):
        # Grafting the donor's MLP under a new name would give two defaults for one key.
        mutate(gpt, "RMSNorm", donor, "GatedMLP", like_for_like=False)


# ---- like for like, and declarations that follow the code (issue #14) -----------------------------

def test_every_candidate_swap_between_seeds_keeps_the_role():
    from verifier.core.gau.operators import candidate_swaps
    from verifier.core.gau.roles import infer_role

    seeds = [load_seed(s) for s in available_seeds()]
    pairs = 0
    for tree in seeds:
        for target, ref in candidate_swaps(tree, [t for t in seeds if t.name != tree.name]):
            assert infer_role(tree, target).role == infer_role(ref.tree, ref.unit).role, (target, ref.unit)
            pairs += 1
    assert pairs > 10


@pytest.mark.parametrize(("seed", "target", "donor_seed", "donor"), [
    ("retnet", "MultiScaleRetention", "gpt", "GatedMLP"),  # retention swapped for an MLP
    ("gpt", "RMSNorm", "retnet", "MultiScaleRetention"),  # attention in both normalisation slots
    ("retnet", "RMSNorm", "rwkv6", "RWKV6Attention"),  # a normalisation swapped for RWKV attention
])
def test_a_swap_across_roles_is_refused(seed, target, donor_seed, donor):
    with pytest.raises(OperatorError, match="cannot stand in for"):
        mutate(load_seed(seed), target, load_seed(donor_seed), donor)


def test_after_a_swap_the_parent_declares_the_newcomer_with_its_own_requirements():
    from verifier.core.gau.declarations import code_declarations, inconsistent_declarations
    from verifier.core.gau.roles import role_problems

    retnet, gpt = load_seed("retnet"), load_seed("gpt")
    child = mutate(retnet, "MultiScaleRetention", gpt, "MHA")
    root_declares = code_declarations(child.units[child.root].code)
    assert "MultiScaleRetention" not in root_declares and "MHA" in root_declares
    assert child.declares["MHA"] == gpt.declares["MHA"]
    assert "MultiScaleRetention" not in child.declares
    assert inconsistent_declarations(child) == [] and role_problems(child) == []
    assert child.metadata["roles"]["MHA"] == "token-mixer"
    assert (child.metadata["target_role"], child.metadata["donor_role"]) == ("token-mixer", "token-mixer")
    forward_backward(child)


def test_a_swap_drops_the_declarations_of_the_units_it_removed():
    child = mutate(load_seed("gpt"), "MHA", load_seed("retnet"), "MultiScaleRetention")
    assert "RotaryPositionalEmbeddings" not in child.units
    assert "RotaryPositionalEmbeddings" not in child.declares


def test_a_unit_still_used_elsewhere_survives_the_swap_with_its_children():
    # rwkv6's LerpLinear serves both the attention and the feed-forward; its LoRA must stay.
    child = mutate(load_seed("rwkv6"), "RWKV6Attention", load_seed("mamba2"), "Mamba2Layer")
    assert {"LerpLinear", "LoRA"} <= set(child.units)
    assert child.validate() == []


def test_without_like_for_like_the_old_search_space_is_still_reachable():
    from verifier.core.gau.roles import role_problems

    child = mutate(load_seed("retnet"), "MultiScaleRetention", load_seed("gpt"), "GatedMLP", like_for_like=False)
    assert "no unit mixes information across positions" in role_problems(child)
