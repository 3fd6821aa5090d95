"""Exact fast scoring: the same loglikelihoods as the naive reference and as lm-eval's own HFLM path."""

from __future__ import annotations

import math
import random

import pytest
import torch

from verifier.core.gau import compose, load_gab
from verifier.core.seeds import load_seed
from verifier.core.train.autotune import build_model
from verifier.core.train.data import load_tokenizer
from verifier.core.train.evaluation import evaluate
from verifier.core.train.scoring import batch_rows, model_input, naive_scores, plan_rows, score_requests

VOCAB = 97


@pytest.fixture(scope="module")
def small_lm():
    gab_cls, cfg = load_gab(compose(load_seed("gpt")), "gpt")
    torch.manual_seed(0)
    return build_model(gab_cls, cfg, VOCAB, 32, 2, 64).eval()


def random_requests(n: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        context = [rng.randrange(VOCAB) for _ in range(rng.randint(1, 50))]
        out.append((context, [rng.randrange(VOCAB) for _ in range(rng.randint(1, 12))]))
    return out


def assert_same(got, want, tol=1e-4):
    assert len(got) == len(want)
    for (lp, greedy), (lp_ref, greedy_ref) in zip(got, want, strict=True):
        assert lp == pytest.approx(lp_ref, abs=tol)
        assert greedy == greedy_ref


def test_fast_scores_equal_the_naive_reference(small_lm):
    requests = random_requests(40)
    # awkward cases: the choices of one question (shared context, one-token answers), an exact
    # duplicate, a continuation as long as max_length, and inputs cut from the left
    shared = [5, 6, 7, 8]
    requests += [(shared, [1]), (shared, [2]), (shared, [1, 3]), (shared, [1]), ([9] * 60, [4] * 32), ([3], [2] * 20)]
    want = naive_scores(small_lm, requests, max_length=32)
    for budget in (1, 64, 4096):  # one row per pass, a few rows, everything at once
        assert_same(score_requests(small_lm, requests, max_length=32, token_budget=budget, head_chunk=7), want)


def test_greedy_continuations_are_recognised(small_lm):
    context = [1, 2, 3]
    with torch.no_grad():
        best = int(small_lm(torch.tensor([context])).logits[0, -1].argmax())
    (lp, greedy), (_, not_greedy) = score_requests(small_lm, [(context, [best]), (context, [(best + 1) % VOCAB])], 32)
    assert greedy and not not_greedy
    assert lp < 0


def test_choices_with_a_shared_prefix_share_one_forward_pass():
    context = [5, 6, 7]
    requests = [(context, [1]), (context, [2]), (context, [3]), (context, [1, 4]), ([8], [1])]
    rows, inputs = plan_rows(requests, max_length=32)
    assert inputs[0] == inputs[1] == inputs[2] == [5, 6, 7]
    assert [sorted(r.requests) for r in rows] == [[0, 1, 2, 3], [4]]  # [5,6,7] is a prefix of [5,6,7,1]
    assert [len(b) for b in batch_rows(rows, token_budget=8)] == [2]  # 2 rows x 4 tokens fit in 8
    assert [len(b) for b in batch_rows(rows, token_budget=7)] == [1, 1]


def test_bad_requests_are_refused(small_lm):
    with pytest.raises(ValueError, match="exceeds max_length"):
        model_input([1], [2] * 33, max_length=32)
    with pytest.raises(ValueError, match="non-empty"):
        score_requests(small_lm, [([], [1])], max_length=32)
    assert score_requests(small_lm, [], max_length=32) == []


# ---- against lm-eval's HFLM, through lm-eval's tasks -----------------------------------------------

def tiny_llama_model(tokenizer):
    gab_cls, cfg = load_gab(compose(load_seed("gpt")), "gpt")
    torch.manual_seed(0)
    return build_model(gab_cls, cfg, len(tokenizer), 32, 1, 64).eval()


def compare_engines(tasks, limit, data_dir, cache_dir, max_length):
    tokenizer = load_tokenizer("tokenizers/llama2", data_dir)
    lm = tiny_llama_model(tokenizer)
    runs = {engine: evaluate(lm, tokenizer, tasks, data_dir, cache_dir, limit=limit, bootstrap_iters=10,
                             max_length=max_length, engine=engine) for engine in ("hflm", "fast")}
    for task in tasks:
        oracle, fast = runs["hflm"][task], runs["fast"][task]
        assert set(oracle) == set(fast)
        assert oracle["samples"] == fast["samples"] == (limit if task != "blimp_local" else 67 * limit)
        for key, value in oracle.items():
            if isinstance(value, float) and "perplexity" in key:
                assert fast[key] == pytest.approx(value, rel=1e-4), (task, key)
            elif isinstance(value, float):
                assert fast[key] == pytest.approx(value, abs=1e-4), (task, key)
            else:
                assert fast[key] == value, (task, key)
    return runs


@pytest.mark.slow
def test_fast_engine_gives_lm_eval_hflm_numbers_on_every_local_task(genesys_data_dir, tmp_path_factory):
    from verifier.core.train.ladder import FULL_TASKS

    # max_length 48 cuts long contexts (WinoGrande, BoolQ passages, WikiText windows) from the left
    runs = compare_engines((*FULL_TASKS, "wikitext_local"), 2, genesys_data_dir, tmp_path_factory.mktemp("cache"),
                           max_length=48)
    assert math.isfinite(runs["fast"]["wikitext_local"]["word_perplexity"])
    assert runs["fast"]["piqa_local"]["acc_norm"] is not None


def test_unknown_engine_is_refused(small_lm, tmp_path):
    with pytest.raises(ValueError, match="unknown evaluation engine"):
        evaluate(small_lm, None, ["piqa_local"], None, tmp_path, engine="vllm")


def test_awkward_request_strings_are_encoded_as_lm_eval_encodes_them(genesys_data_dir):
    from lm_eval.api.instance import Instance

    from verifier.core.train.evaluation import make_harness

    tokenizer = load_tokenizer("tokenizers/llama2", genesys_data_dir)
    lm = tiny_llama_model(tokenizer)
    pairs = [("", " The cat sat."), ("  ", "x"), ("Question: why?\nAnswer: ", "because"), ("Q:", " no"),
             ("Q:", " yes"), ("<s>Already a BOS", " then"), ("Café — naïve", " résumé ✓"), ("", "<s> odd")]
    requests = [Instance(request_type="loglikelihood", doc={}, arguments=p, idx=i) for i, p in enumerate(pairs)]
    oracle = make_harness(lm, tokenizer, "hflm", max_length=64).loglikelihood(requests, disable_tqdm=True)
    fast = make_harness(lm, tokenizer, "fast", max_length=64).loglikelihood(requests, disable_tqdm=True)
    assert_same(fast, oracle)


def test_rolling_loglikelihoods_match_lm_eval(genesys_data_dir):
    from lm_eval.api.instance import Instance

    from verifier.core.train.evaluation import make_harness

    tokenizer = load_tokenizer("tokenizers/llama2", genesys_data_dir)
    lm = tiny_llama_model(tokenizer)
    pages = ["A short page.", "word " * 150, "Café — naïve résumé.\n\n" * 12]  # one, several, many windows
    requests = [Instance(request_type="loglikelihood_rolling", doc={}, arguments=(p,), idx=0) for p in pages]
    oracle = make_harness(lm, tokenizer, "hflm", max_length=32).loglikelihood_rolling(requests, disable_tqdm=True)
    fast = make_harness(lm, tokenizer, "fast", max_length=32).loglikelihood_rolling(requests, disable_tqdm=True)
    assert fast == pytest.approx(oracle, abs=1e-4)


# awkward token-level requests (max_length 32): the fast path must equal the naive reference and HFLM
SHARED = [5, 6, 7, 8]
AWKWARD = {
    "one request": [([1, 2, 3], [4, 5])],
    "identical requests": [([1, 2, 3], [4, 5])] * 3,
    # the choices of one question: multi-token continuations of different lengths, one a prefix of
    # another, one much longer than the rest, one sharing only its first token
    "shared context": [(SHARED, [1, 2]), (SHARED, [3, 4, 5, 6]), (SHARED, [1]), (SHARED, [1, 2, 9, 9, 9, 9, 9, 9, 9]),
                       (SHARED, [3, 7]), (SHARED, [2] * 20)],
    # contexts cut from the left (context + continuation beyond max_length), the continuation
    # alone filling max_length, and choices whose cut inputs no longer share a start
    "max_length truncation": [([9] * 60, [4] * 3), ([9] * 60, [4] * 32), ([8] * 30, [1] * 10), ([8] * 30, [2] * 10),
                              (list(range(1, 40)), [3]), (list(range(1, 40)), [3, 3])],
}


@pytest.mark.parametrize("case", sorted(AWKWARD))
def test_fast_scores_equal_the_naive_reference_on_awkward_requests(small_lm, case):
    requests = AWKWARD[case]
    want = naive_scores(small_lm, requests, max_length=32)
    for budget, chunk in ((1, 1), (40, 3), (4096, 256)):  # a row per pass and a prefix per head chunk, ..., all at once
        assert_same(score_requests(small_lm, requests, max_length=32, token_budget=budget, head_chunk=chunk), want)


def test_fast_harness_equals_lm_eval_hflm_on_awkward_token_requests(genesys_data_dir):
    from verifier.core.train.evaluation import make_harness

    tokenizer = load_tokenizer("tokenizers/llama2", genesys_data_dir)
    lm = tiny_llama_model(tokenizer)
    requests = [(None, list(c), list(k)) for case in sorted(AWKWARD) for c, k in AWKWARD[case]]
    oracle = make_harness(lm, tokenizer, "hflm", max_length=32)._loglikelihood_tokens(requests, disable_tqdm=True)
    fast = make_harness(lm, tokenizer, "fast", max_length=32)._loglikelihood_tokens(requests, disable_tqdm=True)
    assert_same(fast, oracle)
    assert_same(fast, naive_scores(lm, [(c, k) for _, c, k in requests], max_length=32))


def test_a_pass_that_runs_out_of_memory_is_replanned_with_smaller_batches(small_lm, monkeypatch):
    """Out of memory on a batch of several rows: the budget halves, the batches ahead are planned
    anew, and every request still gets the reference's numbers."""
    requests = random_requests(30, seed=3)
    want = naive_scores(small_lm, requests, max_length=32)
    real = small_lm.hidden_states
    refused, passes = [], []

    def cramped(ids):
        if ids.shape[0] > 2:
            refused.append(ids.shape[0])
            raise torch.OutOfMemoryError("test: at most two rows fit")
        passes.append(ids.shape[0])
        return real(ids)

    monkeypatch.setattr(small_lm, "hidden_states", cramped)
    assert_same(score_requests(small_lm, requests, max_length=32, token_budget=4096), want)
    assert refused and refused[0] == 30  # everything fitted the budget at first, and ran out
    assert sum(passes) == len(plan_rows(requests, 32)[0])  # then every row ran once, in smaller passes


def test_evaluating_local_tasks_never_reaches_for_the_network(genesys_data_dir, tmp_path, monkeypatch):
    """Local task files are read offline even when `datasets` was imported online (it reads
    HF_HUB_OFFLINE once, at import): no download-count request to the hub, no DNS lookup."""
    import socket

    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_UPDATE_DOWNLOAD_COUNTS", True)
    lookups = []

    def no_network(host, *args, **kwargs):
        lookups.append(host)
        raise OSError(f"test: no network for {host}")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    tokenizer = load_tokenizer("tokenizers/llama2", genesys_data_dir)
    rows = evaluate(tiny_llama_model(tokenizer), tokenizer, ["copa_local"], genesys_data_dir, tmp_path, limit=2,
                    bootstrap_iters=10, max_length=48)
    assert rows["copa_local"]["samples"] == 2
    assert lookups == []
