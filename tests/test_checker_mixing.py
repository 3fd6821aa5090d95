"""The checker's mixing stage: a block whose outputs never depend on earlier positions is rejected.

Each check below really runs in the sandbox (a few seconds each at this small shape).
"""

from __future__ import annotations

import pytest

from verifier.core.checker import CheckConfig, run_checks
from verifier.core.checker.categories import CATEGORIES, NO_MIXING
from verifier.core.checker.mixing import mixing_positions
from verifier.core.gau.operators import mutate
from verifier.core.seeds import load_seed


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> CheckConfig:
    return CheckConfig(d_model=32, seq_len=32, batch_size=2, train_steps=12, timeout_s=60,
                       compare_with_reference=False, cache_dir=str(tmp_path_factory.mktemp("mixing-cache")))


@pytest.mark.parametrize(("seq_len", "positions"), [(1, []), (2, [1]), (3, [1, 2]), (32, [1, 2, 8, 16, 31])])
def test_positions_are_all_after_the_first(seq_len, positions):
    assert mixing_positions(seq_len) == positions


def test_no_mixing_is_a_category():
    assert NO_MIXING in CATEGORIES


def test_retention_swapped_for_an_mlp_is_rejected(config):
    # What the old GP operators made: the retention layer replaced by GPT's MLP.
    tree = mutate(load_seed("retnet"), "MultiScaleRetention", load_seed("gpt"), "GatedMLP", like_for_like=False)
    report = run_checks(tree, config)
    assert not report.passed
    assert report.stages["mixing"].passed is False
    assert report.stages["causality"].passed  # causal, so no other stage would have caught it
    errors = report.errors
    assert [f.category for f in errors] == [NO_MIXING], report.format_text()
    assert "does not mix information across positions" in errors[0].message


def test_a_seed_mixes(config):
    report = run_checks(load_seed("ttt"), config)
    assert report.passed, report.format_text()
    assert report.stages["mixing"].passed
    assert report.figures["mixing_deaf_positions"] == 0
    # Measured in the sandbox: the block and its convolution read earlier positions; the norms, the
    # MLP and the rotary table do not. TTTLinear reads the convolution's output, which has already
    # moved at t, so this probe cannot judge it (it is not listed, not listed as deaf either).
    assert set(report.figures["mixing_units"]) == {"TTT", "Conv"}


def test_placeholders_skip_the_mixing_stage(config):
    # While the implementer writes the MLP, the retention layer is still a pass-through placeholder.
    tree = load_seed("retnet")
    del tree.units["MultiScaleRetention"]
    report = run_checks(tree, config, focus_unit="RetNetMLP")
    assert report.stages["mixing"].skipped
    assert report.passed, report.format_text()


def test_nudged_parameters_are_restored_exactly():
    import torch

    from verifier.core.checker.mixing import nudged_parameters

    layer = torch.nn.Linear(4, 4)
    before = [p.detach().clone() for p in layer.parameters()]
    with nudged_parameters(layer, torch.Generator().manual_seed(0)):
        assert not torch.equal(layer.weight, before[0])
    assert all(torch.equal(p, b) for p, b in zip(layer.parameters(), before, strict=True))
