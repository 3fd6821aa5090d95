"""Reference-format designs that use a child's output pair the ways the reference protocol allows
(`self.child(X, **Z)[0]`, `Y, Z_ = ...`, `out = ...; Y = out[0]`, a list of outputs, passing the
pair to a helper, returning it) pass the checker; the runtime checks still judge what they compute.
Each file of tests/good_designs/ is a single-file GAB read by the importer (verifier/core/importer.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from verifier.core.checker import CheckConfig
from verifier.core.checker.files import check_path

GOOD = Path(__file__).resolve().parent / "good_designs"
DESIGNS = sorted(p.name for p in GOOD.glob("*.py"))


def small_config(cache: Path) -> CheckConfig:
    return CheckConfig(d_model=64, seq_len=64, batch_size=4, train_steps=12, timeout_s=60,
                       memory_limit_mb=2048, cache_dir=str(cache))


def test_there_are_four_good_designs_each_with_several_units():
    assert len(DESIGNS) >= 4


@pytest.mark.parametrize("name", DESIGNS)
def test_static_stage_accepts(name, tmp_path):
    tree, report = check_path(GOOD / name, small_config(tmp_path), stages=("static",))
    assert tree is not None and len(tree.units) >= 3
    assert report.passed, report.format_text()
    assert not [f for f in report.findings if f.category == "protocol" and f.severity == "error"]


@pytest.fixture(scope="module")
def full_reports(tmp_path_factory):
    config = small_config(tmp_path_factory.getbasetemp() / "checker-cache-good")
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(DESIGNS, pool.map(lambda n: check_path(GOOD / n, config)[1], DESIGNS), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", DESIGNS)
def test_full_check_passes_against_the_gpt_reference(name, full_reports):
    report = full_reports[name]
    assert report.passed, report.format_text()
    for stage in ("causality", "gradients", "train", "compare"):
        assert report.stages[stage].passed, stage


@pytest.mark.slow
def test_an_unused_parameter_is_a_warning_with_its_count(full_reports):
    report = full_reports["gated_unit_spare_parameter.py"]
    (warning,) = [w for w in report.warnings if w.category == "no-gradient"]
    # one per block: the check builds n_block = 2 blocks
    assert warning.unit == "GatedAttentionBlock" and warning.message.startswith("2 parameters are never used")
    assert "blocks.0.root.temperature" in warning.message and report.figures["unused_parameters"] == 2
