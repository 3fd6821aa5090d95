"""Likelihood-based task scores: per-document rules, and the report's numbers against a direct
computation from the model's logits on the same context/continuation strings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from verifier.core.gau import compose, load_gab
from verifier.core.seeds import load_seed
from verifier.core.train.autotune import build_model
from verifier.core.train.data import load_tokenizer
from verifier.core.train.evaluation import evaluate
from verifier.core.train.likelihood import aggregate, document_scores, mean_and_stderr


def sample(lls, continuations, contexts=None):
    contexts = contexts or ["Q:"] * len(lls)
    return {"arguments": list(zip(contexts, continuations, strict=True)),
            "filtered_resps": [(ll, False) for ll in lls]}


# ---- per-document rules ----------------------------------------------------------------------------

def test_logprob_per_byte_and_margin_of_one_document():
    # " no" and " yes" are 3 and 4 bytes; "é" is two bytes in UTF-8
    scores = document_scores(sample([-6.0, -8.0, -3.0], [" no", " yes", " é"]), "multiple_choice", gold=0)
    assert scores == {"logprob_per_byte": -2.0, "margin": -2.0 - max(-8.0 / 4, -3.0 / 3)}
    # a tie between the correct and a wrong choice: margin 0
    assert document_scores(sample([-3.0, -3.0], [" a", " b"]), "multiple_choice", gold=1)["margin"] == 0.0


def test_awkward_documents():
    one_choice = document_scores(sample([-4.0], [" ab"]), "multiple_choice", gold=0)
    assert one_choice == {"logprob_per_byte": -4.0 / 3}  # no wrong choice: no margin
    assert document_scores(sample([-4.0, -1.0], [" a", " b"]), "multiple_choice", gold=None) is None
    assert document_scores(sample([-4.0, -1.0], [" a", " b"]), "multiple_choice", gold=5) is None
    assert document_scores(sample([-4.0], [" word"]), "loglikelihood", gold=None) == {"logprob_per_byte": -0.8}
    assert document_scores({"arguments": [("page",)], "filtered_resps": [-99.0]}, "loglikelihood_rolling", None) is None
    with pytest.raises(ValueError, match="empty continuation"):
        document_scores(sample([-1.0, -2.0], ["", " b"]), "multiple_choice", gold=0)


def test_aggregate_means_and_standard_errors():
    assert aggregate([]) == {"docs": 0}
    one = aggregate([{"logprob_per_byte": -1.5, "margin": 0.25}])
    assert one == {"docs": 1, "logprob_per_byte": -1.5, "logprob_per_byte_stderr": None,
                   "margin": 0.25, "margin_stderr": None}
    row = aggregate([{"logprob_per_byte": -1.0, "margin": 1.0}, {"logprob_per_byte": -3.0}])
    assert row["docs"] == 2 and row["margin"] == 1.0 and row["margin_stderr"] is None
    assert row["logprob_per_byte"] == -2.0
    assert row["logprob_per_byte_stderr"] == pytest.approx(math.sqrt(2.0 / 2))  # sd sqrt(2), n 2
    assert mean_and_stderr([2.0, 2.0, 2.0]) == (2.0, 0.0)


# ---- against the model's logits --------------------------------------------------------------------

@pytest.fixture(scope="module")
def setup(genesys_data_dir, tmp_path_factory):
    tokenizer = load_tokenizer("tokenizers/llama2", genesys_data_dir)
    gab_cls, cfg = load_gab(compose(load_seed("gpt")), "gpt")
    torch.manual_seed(1)
    lm = build_model(gab_cls, cfg, len(tokenizer), 32, 1, 64).eval()
    rows = evaluate(lm, tokenizer, ["piqa_local", "winogrande_local", "blimp_local"], genesys_data_dir,
                    tmp_path_factory.mktemp("cache"), limit=3, limits={"blimp_local": 1},
                    bootstrap_iters=10)
    return tokenizer, lm, rows, genesys_data_dir


def loglikelihood(lm, tokenizer, context: str, continuation: str) -> float:
    """log P(continuation | context) from full logits, with lm-eval's request encoding."""
    if context == "":
        ctx, cont = [tokenizer.bos_token_id], tokenizer.encode(continuation, add_special_tokens=False)
    else:
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        whole, ctx = tokenizer.encode(context + continuation), tokenizer.encode(context)
        cont = whole[len(ctx):]
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = F.log_softmax(lm(ids[:, :-1]).logits.double(), dim=-1)[0, -len(cont):]
    return float(logp.gather(1, torch.tensor(cont)[:, None]).sum())


def expected(lm, tokenizer, questions) -> dict[str, float]:
    """Per-byte scores by hand: questions are (contexts, continuations, gold index)."""
    per_byte, margins = [], []
    for contexts, continuations, gold in questions:
        values = [loglikelihood(lm, tokenizer, c, k) / len(k.encode()) for c, k in zip(contexts, continuations,
                                                                                       strict=True)]
        per_byte.append(values[gold])
        margins.append(values[gold] - max(v for i, v in enumerate(values) if i != gold))
    (lp, lp_se), (m, m_se) = mean_and_stderr(per_byte), mean_and_stderr(margins)
    return {"docs": len(questions), "logprob_per_byte": lp, "logprob_per_byte_stderr": lp_se,
            "margin": m, "margin_stderr": m_se}


def first_lines(path: Path, n: int) -> list[dict]:
    with open(path) as fh:
        return [json.loads(next(fh)) for _ in range(n)]


def assert_row(row, want):
    assert row["docs"] == want["docs"]
    for key in ("logprob_per_byte", "logprob_per_byte_stderr", "margin", "margin_stderr"):
        assert row[key] == pytest.approx(want[key], abs=1e-4), key


def test_piqa_scores_match_the_logits(setup):
    tokenizer, lm, rows, data = setup
    questions = [([f"Question: {d['goal']}\nAnswer:"] * 2, [" " + d["sol1"], " " + d["sol2"]], d["label"])
                 for d in first_lines(data / "eval/piqa/valid_labeled.jsonl", 3)]
    assert_row(rows["piqa_local"], expected(lm, tokenizer, questions))


def test_winogrande_scores_the_shared_ending_after_each_context(setup):
    tokenizer, lm, rows, data = setup
    questions = [(d["context_options"], [" " + d["continuation"]] * 2, d["gold"])
                 for d in first_lines(data / "eval/llm-foundry/winogrande.jsonl", 3)]
    assert_row(rows["winogrande_local"], expected(lm, tokenizer, questions))


def test_blimp_pools_the_documents_of_all_its_subtasks(setup):
    tokenizer, lm, rows, data = setup
    files = sorted((data / "eval/blimp").glob("*.jsonl"))
    assert len(files) == 67
    questions = [(["", ""], [" " + d["sentence_good"], " " + d["sentence_bad"]], 0)
                 for path in files for d in first_lines(path, 1)]
    assert rows["blimp_local"]["samples"] == 67
    assert_row(rows["blimp_local"], expected(lm, tokenizer, questions))
