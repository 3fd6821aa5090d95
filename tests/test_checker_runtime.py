"""Runtime checks on real trees: unit-by-unit checking with placeholders, findings attributed to the
unit (and its own line) at fault, the training text, the reference cache and the policy switches."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.core.checker import CheckConfig, run_checks
from verifier.core.checker.reference import cache_path
from verifier.core.seeds import load_seed


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> CheckConfig:
    return CheckConfig(
        d_model=64,
        seq_len=64,
        batch_size=4,
        train_steps=12,
        timeout_s=30,
        memory_limit_mb=2048,
        cache_dir=str(tmp_path_factory.getbasetemp() / "checker-cache"),
    )


def edit(tree, unit: str, old: str, new: str):
    node = tree.units[unit]
    assert old in node.code
    node.code = node.code.replace(old, new)
    first = new.strip().splitlines()[0]
    return next(i for i, line in enumerate(node.code.splitlines(), 1) if first in line)


def test_a_new_unit_is_checked_with_placeholders_for_unwritten_children(config):
    tree = load_seed("gpt")
    del tree.units["RotaryPositionalEmbeddings"]  # declared by MHA, not written yet
    report = run_checks(tree, config, focus_unit="MHA")
    assert report.passed, report.format_text()
    assert report.focus_unit == "MHA"
    assert report.figures["placeholders"] == ["RotaryPositionalEmbeddings"]
    assert report.stages["causality"].passed and report.stages["gradients"].passed
    assert report.stages["train"].skipped == "the tree has placeholder units"


def test_a_failure_names_the_unit_and_the_line_in_that_units_code(config):
    tree = load_seed("gpt")
    line = edit(
        tree,
        "GatedMLP",
        "return self.fc2(F.silu(gate) * up)",
        "return self.fc2(F.silu(gate) * up.transpose(1, 2))",
    )
    report = run_checks(tree, config, focus_unit="GatedMLP")
    assert not report.passed
    finding = report.errors[0]
    assert (finding.category, finding.unit, finding.line) == ("shape-mismatch", "GatedMLP", line)
    assert "in unit GPT2" in finding.detail and "in unit GatedMLP" in finding.detail


def test_a_leak_is_traced_to_the_unit_that_mixes_in_the_future(config):
    tree = load_seed("gpt")
    edit(tree, "MHA", "is_causal=True", "is_causal=False")
    report = run_checks(tree, config)
    assert report.category == "non-causal"
    finding = report.errors[0]
    assert finding.unit == "MHA"
    assert "position 0" in finding.message
    assert report.figures["first_leaking_position"] == 0


def test_unused_parameters_are_a_warning_with_their_count_unless_the_run_makes_them_an_error(config):
    tree = load_seed("gpt")
    edit(
        tree,
        "GatedMLP",
        "self.fc2 = nn.Linear(hidden, embed_dim, bias=False, **self.factory_kwargs)",
        "self.fc2 = nn.Linear(hidden, embed_dim, bias=False, **self.factory_kwargs)\n"
        "        self.spare = nn.Linear(embed_dim, embed_dim, **self.factory_kwargs)",
    )
    lenient = run_checks(tree, config.replace(compare_with_reference=False))  # the default, as the reference
    assert lenient.passed, lenient.format_text()
    (warning,) = [w for w in lenient.warnings if w.category == "no-gradient"]
    # weight and bias of the spare layer, in each of the n_block = 2 blocks
    assert warning.unit == "GatedMLP" and warning.message.startswith("4 parameters are never used")
    assert "blocks.1.root.mlp.spare.bias" in warning.message and lenient.figures["unused_parameters"] == 4
    strict = run_checks(tree, config.replace(unused_parameters="error", compare_with_reference=False))
    assert strict.category == "no-gradient" and not strict.passed
    assert {f.unit for f in strict.errors} == {"GatedMLP"}


def test_a_passing_check_reports_its_figures_and_compares_with_the_cached_reference(config):
    report = run_checks(load_seed("retnet"), config)
    assert report.passed, report.format_text()
    figures = report.figures
    for key in (
        "params_non_embedding",
        "flops_per_step",
        "memory_bytes",
        "time_units",
        "step_seconds",
        "loss_first",
        "loss_last",
        "forward_seconds",
        "time_units_ratio",
        "flops_per_step_ratio",
        "memory_bytes_ratio",
    ):
        assert isinstance(figures[key], (int, float)), key
    assert figures["loss_last"] < figures["loss_first"]
    assert figures["training_text"] == "data:corpora/tinyshakespeare/input.txt" or figures[
        "training_text"
    ].startswith("stdlib:")
    # The GPT figures were measured once and kept for the next check.
    assert cache_path(config, report.sandbox, figures["training_text"]).is_file()
    assert set(report.stages) >= {
        "static",
        "load",
        "init",
        "forward",
        "causality",
        "gradients",
        "train",
        "performance",
        "compare",
    }


def test_without_a_data_directory_the_text_comes_from_the_standard_library(config, tmp_path, monkeypatch):
    monkeypatch.delenv("GENESYS_DATA_DIR", raising=False)
    empty = tmp_path / "no-data"
    empty.mkdir()
    report = run_checks(load_seed("gpt"), config.replace(data_dir=str(empty), compare_with_reference=False))
    assert report.passed, report.format_text()
    assert report.figures["training_text"].startswith("stdlib:pydoc_data/topics.py")


def test_the_training_text_is_real_text(genesys_data_dir):
    from verifier.core.checker.sample_text import training_text

    text, source = training_text(CheckConfig(data_dir=str(genesys_data_dir)))
    assert source == "data:corpora/tinyshakespeare/input.txt"
    assert b"ROMEO" in text or b"First Citizen" in text
    fallback, where = training_text(CheckConfig(data_dir=str(Path("/nonexistent"))))
    assert where.startswith("stdlib:") and b"the" in fallback and len(fallback) == CheckConfig().text_bytes


def test_a_reference_that_fails_makes_the_check_fail_closed(config, tmp_path):
    """Without the reference, the speed, memory and loss limits were not checked: not accepted."""
    broken_reference = Path(__file__).resolve().parent / "bad_designs" / "nan_divide_by_zero.py"
    report = run_checks(
        load_seed("retnet"), config.replace(reference_seed=str(broken_reference), cache_dir=str(tmp_path))
    )
    assert not report.passed
    assert report.category == "checker" and report.stages["compare"].passed is False
    message = report.errors[0].message
    assert "limits could not be checked" in message and "nan-inf" in message
