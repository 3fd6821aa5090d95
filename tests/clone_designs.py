"""Designs for the clone tests: RetNet under GPT's names (what the GP designer made in a real run), and
GPT variants that compute something else or fail the checker."""

from __future__ import annotations

from verifier.core.gau.operators import mutate
from verifier.core.gau.tree import GAUTree
from verifier.core.seeds import load_seed


def retnet_in_gpt() -> GAUTree:
    """GPT's block with its attention swapped for RetNet's retention and its MLP for RetNet's MLP, as the
    GP designer made it (`gpt~MultiScaleRetention~RetNetMLP`): other code and names than the retnet
    seed (another tree hash), the same function."""
    gpt, retnet = load_seed("gpt"), load_seed("retnet")
    return mutate(mutate(gpt, "MHA", retnet, "MultiScaleRetention"), "GatedMLP", retnet, "RetNetMLP")


def gelu_gpt(name: str = "gpt-gelu") -> GAUTree:
    """A design that computes something else than every seed: GPT with GELU in its gated MLP."""
    tree = load_seed("gpt")
    tree.name = name
    tree.units["GatedMLP"].code = tree.units["GatedMLP"].code.replace("F.silu(gate)", "F.gelu(gate)")
    return tree


def leaky_gpt() -> GAUTree:
    """GPT whose attention sees the future: it fails the checker (non-causal)."""
    tree = load_seed("gpt")
    tree.name = "gpt-leaky"
    tree.units["MHA"].code = tree.units["MHA"].code.replace("is_causal=True", "is_causal=False")
    return tree
