"""lm-eval's progress, requests scored / asked per task: counted by the fast harness as it scores, sent
at most every few seconds, and accepted by the worker only in a bounded, well-typed form."""

from __future__ import annotations

import pytest
import torch

from evolution.core.progress import MAX_TASKS, progress_payload
from verifier.core.gau import compose, load_gab
from verifier.core.seeds import load_seed
from verifier.core.train.autotune import build_model
from verifier.core.train.data import load_tokenizer
from verifier.core.train.eval_progress import EvalProgress
from verifier.core.train.scoring import score_requests

VOCAB = 97


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_counts_per_task_and_a_rate_limit():
    events: list[dict] = []
    clock = Clock()
    progress = EvalProgress(events.append, every_s=2.0, clock=clock)
    progress.asked(["piqa"] * 3 + ["arc_easy"] * 2 + [None])
    assert events[-1]["tasks"] == {"piqa": [0, 3], "arc_easy": [0, 2], "other": [0, 1]}
    assert (events[-1]["done"], events[-1]["total"], events[-1]["phase"]) == (0, 6, "eval")
    progress.scored(["piqa", "piqa"])  # within 2 s of the last event: not sent
    assert len(events) == 1
    clock.t = 2.5
    progress.scored(["arc_easy"])
    assert len(events) == 2 and events[-1]["tasks"]["piqa"] == [2, 3] and events[-1]["done"] == 3
    progress.scored(["piqa", "piqa", "piqa"])  # more than asked: never above the total
    progress.finished()
    assert events[-1]["tasks"]["piqa"] == [3, 3]
    assert "piqa 3/3" in events[-1]["message"] and "arc_easy 1/2" in events[-1]["message"]


def test_no_requests_still_reports_zero_of_zero():
    events: list[dict] = []
    progress = EvalProgress(events.append)
    progress.asked([])
    progress.finished()
    assert events[-1]["done"] == events[-1]["total"] == 0 and events[-1]["tasks"] == {}


def test_score_requests_reports_every_request_once_batch_by_batch():
    gab_cls, cfg = load_gab(compose(load_seed("gpt")), "gpt")
    torch.manual_seed(0)
    lm = build_model(gab_cls, cfg, VOCAB, 32, 1, 64).eval()
    shared = [5, 6, 7]
    requests = [(shared, [1]), (shared, [2]), (shared, [1, 3]), ([4] * 20, [9]), ([8], [2, 2])]
    heard: list[list[int]] = []
    with_progress = score_requests(lm, requests, 32, token_budget=24, on_scored=heard.append)
    assert sorted(i for batch in heard for i in batch) == list(range(len(requests)))
    assert len(heard) > 1  # a small budget: several passes, each reported
    assert with_progress == score_requests(lm, requests, 32, token_budget=24)  # the numbers do not change


def test_the_harness_counts_lm_eval_requests_by_their_task(genesys_data_dir):
    from lm_eval.api.instance import Instance

    from verifier.core.train.evaluation import make_harness

    tokenizer = load_tokenizer("tokenizers/llama2", genesys_data_dir)
    gab_cls, cfg = load_gab(compose(load_seed("gpt")), "gpt")
    torch.manual_seed(0)
    lm = build_model(gab_cls, cfg, len(tokenizer), 32, 1, 64).eval()
    pairs = [("Q: one", " a", "piqa_local"), ("Q: one", " b", "piqa_local"), ("Is it?", " yes", "boolq_local")]
    requests = [Instance(request_type="loglikelihood", doc={}, arguments=(c, k), idx=i, metadata=(t, i, 1))
                for i, (c, k, t) in enumerate(pairs)]
    events: list[dict] = []
    harness = make_harness(lm, tokenizer, "fast", max_length=64)
    harness.progress = EvalProgress(events.append)
    harness.loglikelihood(requests, disable_tqdm=True)
    assert events[0]["tasks"] == {"piqa_local": [0, 2], "boolq_local": [0, 1]}
    assert events[-1]["tasks"] == {"piqa_local": [2, 2], "boolq_local": [1, 1]}
    pages = [Instance(request_type="loglikelihood_rolling", doc={}, arguments=("word " * 80,), idx=0,
                      metadata=("wikitext_local", 0, 1))]
    harness.loglikelihood_rolling(pages, disable_tqdm=True)
    done, total = events[-1]["tasks"]["wikitext_local"]
    assert done == total > 1  # one page, several windows


def test_the_worker_keeps_only_a_bounded_well_typed_progress_line():
    assert progress_payload("not a dict") == {} and progress_payload({}) == {}
    line = {"event": "eval", "phase": "eval", "done": 700, "total": 500, "loss": float("nan"), "step": True,
            "message": "scoring " + "piqa 1/2 " * 100, "evil": "<script>",
            "tasks": {**{f"t{i}": [1, 2] for i in range(MAX_TASKS + 5)}, "bad": [3, "x"]}}
    clean = progress_payload(line)
    assert clean["kind"] == "eval" and clean["done"] == clean["total"] == 500  # done clamped to total
    assert "loss" not in clean and "step" not in clean and "evil" not in clean
    assert len(clean["message"]) <= 300 and clean["message"].endswith("…")
    assert len(clean["tasks"]) == MAX_TASKS and "bad" not in clean["tasks"]
    assert progress_payload({"event": "eval", "tasks": {"piqa": [9, 4]}})["tasks"] == {"piqa": [4, 4]}


@pytest.mark.parametrize(("text", "limit", "want"), [
    ("", 10, ""), ("short", 10, "short"), ("exactly ten", 11, "exactly ten"),
    ("the checker found errors in Mamba2Layer", 30, "the checker found errors in…"),
    ("one two three", 8, "one two…"), ("Supercalifragilistic", 8, "Superca…"), ("a  b\n c", 10, "a b c"),
])
def test_clip_stops_at_a_word(text, limit, want):
    from evolution.core.clip import clip

    got = clip(text, limit)
    assert got == want and len(got) <= limit
