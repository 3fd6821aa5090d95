"""The size tuner: hits a parameter target within tolerance, and fails with a reason when it cannot."""

from __future__ import annotations

import pytest

from verifier.core.checker import CheckConfig
from verifier.core.checker.pipeline import tune_design_size
from verifier.core.seeds import load_seed
from verifier.core.sizing import SizingError, tune_size


def transformer_like(d_model: int, n_block: int) -> int:
    return 12 * d_model * d_model * n_block + 2 * d_model * n_block


@pytest.mark.parametrize(
    ("target", "d_model", "n_block"),
    [(1_200_000, 128, 6), (5_000_000, 128, 6), (85_000_000, 768, 12), (300_000, 256, 6)],
)
def test_reaches_the_target_within_tolerance(target, d_model, n_block):
    result = tune_size(transformer_like, target, d_model, n_block, tolerance=0.2)
    assert abs(result.params - target) <= 0.2 * target
    assert result.params == transformer_like(result.d_model, result.n_block)
    assert (result.d_model, result.n_block, result.params) in result.tried


def test_keeps_the_reference_shape_when_it_already_fits():
    result = tune_size(transformer_like, transformer_like(128, 6), 128, 6)
    assert (result.d_model, result.n_block) == (128, 6) and len(result.tried) == 1


def test_a_tighter_tolerance_is_honoured():
    result = tune_size(transformer_like, 3_000_000, 128, 6, tolerance=0.02)
    assert abs(result.ratio - 1) <= 0.02


def test_a_target_below_the_smallest_shape_fails_clearly():
    with pytest.raises(SizingError, match="target too small.*d_model=64 with n_block=1"):
        tune_size(transformer_like, 1_000, 128, 6)


def test_a_target_above_the_largest_shape_fails_clearly():
    with pytest.raises(SizingError, match="target too large"):
        tune_size(transformer_like, 10**13, 128, 6, max_d_model=1024)


def test_widths_the_design_cannot_be_built_at_are_skipped():
    def heads_of_64(d_model: int, n_block: int) -> int:
        if d_model % 64:
            raise ValueError("d_model must be a multiple of the head size 64")
        return transformer_like(d_model, n_block)

    result = tune_size(heads_of_64, 3_000_000, 96, 4)
    assert result.d_model % 64 == 0 and abs(result.ratio - 1) <= 0.2


def test_a_design_that_builds_nowhere_fails_with_its_error():
    def broken(d_model: int, n_block: int) -> int:
        raise RuntimeError("shape error in unit Mixer")

    with pytest.raises(SizingError, match="could not be built.*shape error in unit Mixer"):
        tune_size(broken, 1_000_000, 128, 6)


def test_tuning_a_real_design_runs_in_the_sandbox(tmp_path):
    config = CheckConfig(cache_dir=str(tmp_path))
    result = tune_design_size(load_seed("gpt"), 1_000_000, d_model=128, n_block=6, config=config)
    assert abs(result.params - 1_000_000) <= 200_000
    # GPT2 at width d has about 12 d^2 parameters per block (attention 4 d^2, gated MLP about 8 d^2).
    assert result.params == pytest.approx(12.5 * result.d_model**2 * result.n_block, rel=0.1)
    with pytest.raises(SizingError, match="target too small"):
        tune_design_size(load_seed("gpt"), 10_000, d_model=128, n_block=6, config=config)
