"""The genetic-programming designer (no LLM) behind the designer interface: what runs when no
provider is configured."""

from __future__ import annotations

import random

import pytest

from designer.core.checking import CheckerUnavailable, load_checker
from designer.core.config import DesignerConfig
from designer.core.gp_designer import gp_design
from designer.core.pipeline import design
from verifier.core.gau.composer import compose
from verifier.core.seeds import load_seed


def no_llm(monkeypatch) -> DesignerConfig:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GENESYS_LLM_BASE_URL", "GENESYS_LLM_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    return DesignerConfig.from_env({})


def test_without_a_key_the_gp_designer_crosses_two_seeds(monkeypatch):
    try:
        checker = load_checker()
    except CheckerUnavailable:
        checker = None
    gpt, mamba = load_seed("gpt"), load_seed("mamba2")
    result = design([gpt, mamba], "crossover", no_llm(monkeypatch), rng=random.Random(0), checker=checker)
    assert result.origin["kind"] == "gp" and "ANTHROPIC_API_KEY is not set" in result.origin["why"]
    assert result.parents == ["gpt", "mamba2"] and result.mode == "crossover"
    tree = result.tree
    assert tree is not None and tree.validate() == [] and "class GAB(GABBase)" in compose(tree)
    # The child is gpt with one unit grafted from mamba2: some units of each parent.
    assert set(tree.units) & set(gpt.units) and set(tree.units) & (set(mamba.units) - set(gpt.units))
    assert tree.metadata["parents"] == ["gpt", "mamba2"]
    assert result.metrics["new_units"] and result.cost.dollars == 0 and result.review_rounds == []
    if checker is not None:
        assert result.status == "implemented" and result.check_report["passed"] is True
        assert result.metrics["valid"] is True
    else:
        assert result.status == "unchecked" and result.metrics["valid"] is None


def unchecked(monkeypatch) -> DesignerConfig:
    """These tests are about the operators: the checker is switched off (its run is tested above)."""
    config = no_llm(monkeypatch)
    config.ablation.checker = False
    return config


def test_gp_mutation_is_reproducible_with_a_seeded_rng(monkeypatch):
    config = unchecked(monkeypatch)
    config.use_gp = True
    first = design([load_seed("gpt")], "mutation", config, rng=random.Random(7))
    second = design([load_seed("gpt")], "mutation", config, rng=random.Random(7))
    assert first.metrics["check_skipped"] == "the checker was switched off (checker ablation)"
    assert first.status == "unchecked" and first.failure.startswith("not checked:")
    assert first.tree.content_hash() == second.tree.content_hash()
    assert first.tree.content_hash() != load_seed("gpt").content_hash()
    assert first.proposal["units"][0]["name"] in load_seed("gpt").units


def test_gp_scratch_starts_from_a_design_of_the_pool(monkeypatch):
    pool = [load_seed("gpt"), load_seed("mamba2")]
    result = design([], "scratch", unchecked(monkeypatch), pool=pool, rng=random.Random(1))
    assert result.tree is not None and result.tree.metadata["operator"] == "scratch"


def test_modes_must_match_the_parents(monkeypatch):
    config = no_llm(monkeypatch)
    with pytest.raises(ValueError, match="mutation takes exactly one parent"):
        design([load_seed("gpt"), load_seed("mamba2")], "mutation", config)
    with pytest.raises(ValueError, match="unknown mode"):
        design([], "dream", config)



def test_gp_designs_swap_like_for_like_and_declare_what_they_use():
    from verifier.core.gau.declarations import inconsistent_declarations
    from verifier.core.gau.roles import role_problems

    rng = random.Random(11)
    for mode, parents in [("mutation", ["retnet"]), ("crossover", ["gpt", "ttt"]), ("scratch", [])] * 3:
        result = gp_design([load_seed(p) for p in parents], mode, rng=rng, check=False)
        assert result.tree is not None, result.failure
        meta = result.tree.metadata
        assert meta["target_role"] == meta["donor_role"], meta
        assert role_problems(result.tree) == [] and inconsistent_declarations(result.tree) == []
        assert set(meta["roles"]) == set(result.tree.implemented())
