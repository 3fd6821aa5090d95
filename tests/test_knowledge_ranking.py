"""Ranking that puts the canonical paper first: papers' short names, BM25F field weights, weighted fusion
with a canonical-paper prior, and researcher questions on the real library's 297 abstracts (the store is
built once per session and kept on disk, see test_knowledge_fixtures.cached_store)."""

from __future__ import annotations

import pytest
from test_knowledge_fixtures import abstracts_kb, abstracts_store, library_dir  # noqa: F401

from knowledge.core import KnowledgeBase
from knowledge.core.bm25 import BM25Index
from knowledge.core.evaluation import distinct_papers
from knowledge.core.names import NameIndex, candidate_names, normalise
from knowledge.core.records import PaperRecord
from knowledge.core.retrieval import Candidate, Fusion, Rankings, fuse, paper_priors, reciprocal_rank_fusion

# ------------------------------------------------------------------------------------------------ names

PAPERS = [
    ("mamba", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
     "Foundation models ... we propose selective SSMs (SSMs) in a simplified architecture."),
    ("hiddenattnmamba", "The Hidden Attention of Mamba Models", "Mamba layers are attention in disguise (SSMs)."),
    ("retnet", "Retentive network: a successor to transformer for large language models",
     "In this work, we propose Retentive Network (RetNet) as a foundation architecture."),
    ("based", "Simple linear attention language models balance the recall-throughput tradeoff",
     "We propose BASED, a simple architecture combining linear and sliding window attention."),
    ("other", "On state space models", "Results based on state space models (SSMs) show the ETC effect."),
    ("third", "More on SSMs", "We study SSMs (SSMs) in detail, based on theory."),
    ("etc", "ETC: Encoding Long and Structured Inputs in Transformers", "We present ETC, a new architecture."),
    ("flashattn", "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
     "We propose FlashAttention, an IO-aware exact attention algorithm."),
]


@pytest.fixture(scope="module")
def names() -> NameIndex:
    return NameIndex(PAPERS)


def test_short_names_come_from_titles_ids_and_what_the_abstract_proposes() -> None:
    assert "Mamba" in candidate_names(*PAPERS[0])
    assert {"RetNet", "Retentive network"} <= set(candidate_names(*PAPERS[2]))
    assert "BASED" in candidate_names(*PAPERS[3])
    assert candidate_names("x", "", "") == {}
    assert normalise("Flash-Attention") == "flashattention" and normalise("S4++") == "s4pp"


def test_a_query_names_the_paper_not_the_papers_about_it(names: NameIndex) -> None:
    assert [m.paper_id for m in names.find("state space model selective scan")] == []
    assert [m.paper_id for m in names.find("how does mamba pick what to remember")] == ["mamba"]
    assert [m.paper_id for m in names.find("RetNet retention")] == ["retnet"]
    assert [m.paper_id for m in names.find("flash attention on GPUs")] == ["flashattn"], "spacing is ignored"
    assert [m.paper_id for m in names.find("Flash-Attention and RetNet")] == ["flashattn", "retnet"]
    assert names.find("") == [] and names.find("   ") == []


def test_a_topic_or_a_plain_word_is_not_a_name(names: NameIndex) -> None:
    assert names.find("SSMs for language") == [], "three papers say SSMs: a topic"
    assert names.find("results based on linear attention") == [], "'based' is a word..."
    assert [m.paper_id for m in names.find("BASED linear attention")] == ["based"], "...'BASED' a name"
    assert names.find("transformers, etc.") == [] and [m.paper_id for m in names.find("ETC")] == ["etc"]


# ------------------------------------------------------------------------------------------------ BM25F


def test_bm25f_weighs_a_title_word_above_the_same_word_in_a_passage() -> None:
    docs = [{"title": "Selective state spaces", "body": "we study recurrence"},
            {"title": "Recurrence", "body": "selective state spaces are studied here"}]
    flat = BM25Index(docs, field_weights={"title": 1.0, "body": 1.0}).scores("selective")
    weighted = BM25Index(docs, field_weights={"title": 3.0, "body": 1.0}).scores("selective")
    assert weighted[0] > weighted[1] and weighted[0] / weighted[1] > flat[0] / flat[1]
    assert BM25Index(docs, field_weights={"title": 0.0, "body": 1.0}).scores("selective")[0] == 0.0


def test_plain_strings_are_okapi_bm25() -> None:
    import math

    index = BM25Index(["mamba mamba ssm", "attention block", "ssm"])
    n, df, avg = 3, 1, (3 + 2 + 1) / 3
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    expected = idf * 2 * 2.2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 3 / avg))
    assert index.scores("mamba")[0] == pytest.approx(expected, rel=1e-5)
    assert list(index.scores("absent")) == [0.0, 0.0, 0.0]
    assert len(BM25Index([])) == 0 and BM25Index([]).scores("x").size == 0


# ------------------------------------------------------------------------------------------------ fusion


def _rankings(lists: dict[str, list[str]], priors: dict[str, float] | None = None) -> Rankings:
    ids = {cid for ranking in lists.values() for cid in ranking}
    return Rankings(lists=lists, candidates={c: Candidate(c, 0.0, {}) for c in ids}, priors=priors or {})


def test_weights_decide_between_rankings_and_the_prior_breaks_ties() -> None:
    rankings = _rankings({"dense": ["a", "b"], "bm25": ["b", "a"]}, {"a": 1.0, "b": 0.0})
    assert [c for c, _ in fuse(rankings, Fusion(dense=2.0, bm25=1.0, name=0.0, prior=0.0))][0] == "a"
    assert [c for c, _ in fuse(rankings, Fusion(dense=1.0, bm25=2.0, name=0.0, prior=0.0))][0] == "b"
    even = Fusion(dense=1.0, bm25=1.0, prior=0.1)
    tied = [c for c, _ in fuse(_rankings({"dense": ["a", "b"], "bm25": ["b", "a"]}, {"b": 1.0}), even)]
    assert tied[0] == "b", "equal fused ranks: the canonical paper first"
    assert fuse(_rankings({}), Fusion()) == []
    assert reciprocal_rank_fusion({"dense": ["a"], "bm25": ["a"]}, k=60) == [("a", pytest.approx(2 / 61))]


def test_priors_favour_papers_cited_in_the_world_and_in_the_library() -> None:
    records = [PaperRecord("s4", "S4", citation_count=700), PaperRecord("mamba", "Mamba", citation_count=600, cites=("s4",)),
               PaperRecord("new", "New", citation_count=None, cites=("s4", "mamba"))]
    priors = paper_priors(records)
    assert priors["s4"] == pytest.approx(1.0) and priors["new"] == 0.0 < priors["mamba"] < priors["s4"]
    assert paper_priors([]) == {} and paper_priors([PaperRecord("x", "X")]) == {"x": 0.0}


# ----------------------------------------------------------------------------- on the real library

#: (researcher question, the papers any of which is the canonical answer)
CANONICAL = [
    ("mamba architecture", {"mamba"}),
    ("how does Mamba decide what to keep in its recurrent state", {"mamba"}),
    ("what is the RWKV language model", {"rwkv4", "rwkv6"}),
    ("RetNet retention instead of attention", {"retnet"}),
    ("how does FlashAttention avoid writing the attention matrix to GPU memory", {"flashattn"}),
    ("Hyena long convolutions", {"hyena"}),
    ("ALiBi length extrapolation", {"alibi"}),
    ("rotary position embedding encoding relative position by rotating queries and keys", {"roformer"}),
]


@pytest.mark.parametrize(("query", "canonical"), CANONICAL, ids=[q for q, _ in CANONICAL])
def test_the_canonical_paper_ranks_in_the_top_3(abstracts_kb: KnowledgeBase, query: str, canonical: set[str]) -> None:  # noqa: F811
    papers = distinct_papers([h.paper_id for h in abstracts_kb.search(query, k=20, rerank=False)])
    assert canonical & set(papers[:3]), papers[:5]


def test_the_query_of_issue_14_finds_mamba_on_the_first_screen(abstracts_kb: KnowledgeBase) -> None:  # noqa: F811
    """It ranked 17th before. A dozen papers extend Mamba with the same words in their titles; only a
    canonical-paper signal puts Mamba above them, and the labelled set says that costs more than it gains
    (see knowledge/README.md), so it is 6th, not 1st."""
    papers = distinct_papers([h.paper_id for h in abstracts_kb.search("state space model selective scan", k=50,
                                                                      rerank=False)])
    assert "mamba" in papers[:6], papers[:10]


def test_a_named_paper_carries_its_name_rank(abstracts_kb: KnowledgeBase) -> None:  # noqa: F811
    hits = abstracts_kb.search("Hyena long convolutions", k=5, rerank=False)
    hyena = next(h for h in hits if h.paper_id == "hyena")
    assert hyena.ranks.get("name") == 1 and "Hyena" in abstracts_kb.retriever.keywords.names_of("hyena")
    dense_only = abstracts_kb.search("Hyena long convolutions", k=5, method="dense", rerank=False)
    assert all(set(h.ranks) == {"dense"} for h in dense_only), "embeddings mode stays pure"


def test_a_name_respects_filters(abstracts_kb: KnowledgeBase) -> None:  # noqa: F811
    hits = abstracts_kb.search("mamba architecture", k=10, filters={"year": {"$gte": 2024}}, rerank=False)
    assert hits and "mamba" not in {h.paper_id for h in hits} and all(h.year >= 2024 for h in hits)
