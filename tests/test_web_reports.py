"""How the pages read the engines' reports: scores against chance with their noise, what was trained,
and the checker's figures with their units. Pure functions over report dicts: no database."""

from __future__ import annotations

import pytest

from evolution.core import reports
from evolution.core.ladder import chance_accuracy

# A verification report as the engine writes it (shape of `VerificationReport.to_dict()` after a
# `test`-rung run on a CPU): lm-eval rows with stderr and sample counts, one perplexity-only task.
REAL_REPORT = {
    "format": "genesys.verification-report/1", "rung": "test", "status": "done", "device": "cpu (2 threads)",
    "shape": {"d_model": 64, "n_block": 2, "non_embedding_params": 106816, "total_params": 2154816,
              "target_params": 98304},
    "data": {"corpus": "corpora/gutenberg", "tokenizer": "tokenizers/llama2", "vocab_size": 32000},
    "config": {"rung": {"name": "test", "train_tokens": 16384, "context_length": 128, "batch_tokens": 512}},
    "loss_curve": [{"step": 1, "tokens": 512, "loss": 10.37}, {"step": 2, "tokens": 1024, "loss": 10.31},
                   {"step": 32, "tokens": 16384, "loss": 7.56}],
    "final_train_loss": 7.68, "val_loss": 7.6466, "val_perplexity": 2093.55, "tokens_per_s": 242.6,
    "peak_memory_bytes": 649109504, "peak_memory_kind": "process_max_rss",
    "wall_time_s": {"train": 72.3, "eval": 63.1, "total": 151.3},
    "eval": {
        "piqa_local": {"acc": 0.5, "acc_stderr": 0.1667, "acc_norm": 0.3, "acc_norm_stderr": 0.1528, "samples": 10,
                       "limit": 10},
        "lambada_openai_local": {"acc": 0.0, "acc_stderr": 0.0, "perplexity": 5409460.5, "samples": 10, "limit": 10},
        "wikitext_local": {"word_perplexity": 812.4, "byte_perplexity": 3.1, "bits_per_byte": 1.63, "samples": 62},
    },
    "task_scores": {"piqa_local": -0.2, "lambada_openai_local": 0.0}, "fitness": -0.1,
}


def test_task_rows_read_each_score_against_chance_with_its_noise():
    rows = {r["task"]: r for r in reports.task_rows(REAL_REPORT, chance_accuracy)}
    piqa = rows["piqa_local"]
    # acc_norm, as the fitness uses, with acc_norm's own standard error.
    assert (piqa["metric"], piqa["value"], piqa["stderr"], piqa["samples"]) == ("acc_norm", 0.3, 0.1528, 10)
    assert piqa["chance"] == 0.5 and piqa["above"] == pytest.approx(-0.2)
    assert rows["lambada_openai_local"]["chance"] == 0.0
    # A perplexity-only task is not an accuracy: it has no row rather than its perplexity as a score.
    assert "wikitext_local" not in rows


def test_a_perplexity_is_never_read_as_an_accuracy():
    scores = reports.task_scores(REAL_REPORT)
    assert scores == {"piqa_local": 0.3, "lambada_openai_local": 0.0}
    metrics = reports.summary_metrics(REAL_REPORT)
    assert metrics["mean_score"] == pytest.approx(0.15)


def test_loss_curves_carry_training_tokens_and_run_details_say_what_was_trained():
    curves = reports.loss_curves(REAL_REPORT)
    assert curves["train"]["tokens"] == [512, 1024, 16384] and curves["train"]["x"] == [1, 2, 32]
    assert "tokens" not in reports.loss_curves({"loss_curve": [{"step": 0, "loss": 5.0}, {"step": 1, "loss": 4.0}]})["train"]
    # One spelling, the schema's: a curve in another shape is not guessed at.
    assert reports.loss_curves({"loss_curve": [[0, 5.0], [1, 4.0]]}) == {}
    details = reports.run_details(REAL_REPORT)
    assert (details["d_model"], details["n_block"], details["non_embedding_params"]) == (64, 2, 106816)
    assert details["tokens_trained"] == 16384 and details["device"] == "cpu (2 threads)"
    assert details["val_perplexity"] == 2093.55 and details["wall_phases"] == [("train", 72.3), ("eval", 63.1)]
    assert reports.run_details(None) == {}


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("params_non_embedding", 426624, "427k"),
    ("reference.params_non_embedding", 14_000_000, "14M"),
    ("flops_per_step", 1610612736, "1.61 GFLOP"),
    ("memory_bytes", 23363556, "22.3 MiB"),
    ("activation_bytes", 512, "512 B"),
    ("step_seconds", 0.088341, "88.3 ms"),
    ("sandbox_seconds", 6.379, "6.38 s"),
    ("peak_rss_mb", 348.26, "348 MB"),
    ("time_units_ratio", 0.9716, "×0.972"),
    ("causality_positions_tested", 10, "10"),
    ("loss_last", 3.418553, "3.419"),
    ("training_text", "data:corpora/x.txt", "data:corpora/x.txt"),
    ("anything", None, "–"),
])
def test_checker_figures_are_shown_with_their_units(name, value, shown):
    assert reports.format_figure(name, value) == shown


def test_the_design_is_read_against_the_gpt_reference():
    scalars = [("params_non_embedding", 500000), ("reference.params_non_embedding", 426624),
               ("params_non_embedding_ratio", 1.172), ("memory_bytes", 2**21), ("reference.memory_bytes", 2**20)]
    rows = {r["key"]: r for r in reports.reference_rows(scalars)}
    assert rows["params_non_embedding"]["ratio"] == 1.172 and rows["params_non_embedding"]["reference"] == "427k"
    assert rows["memory_bytes"]["ratio"] == 2.0  # no ratio in the report: computed
    assert "flops_per_step" not in rows  # neither side reported
