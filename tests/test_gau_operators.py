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
