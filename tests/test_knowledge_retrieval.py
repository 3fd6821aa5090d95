"""Retrieval over the whole reference library (all 297 papers' abstracts): quality on the labelled
query set per method, filters, references for a proposal, and the LLM reranker through a provider's
HTTP API (the only thing faked here is the provider's HTTP server)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import httpx2
import pytest
from test_knowledge_fixtures import abstracts_kb, abstracts_store, library_dir  # noqa: F401

from knowledge.core import KnowledgeBase, format_references
from knowledge.core.evaluation import evaluate, load_queries, score_ranking
from knowledge.core.library import list_papers
from knowledge.core.llm import anthropic_complete, complete_from_env, openai_complete
from knowledge.core.retrieval import METHODS

QUERIES = Path(__file__).parent / "data" / "knowledge_queries.json"


def test_the_labelled_set_is_large_enough_and_names_real_papers(library_dir: Path) -> None:  # noqa: F811
    queries = load_queries(QUERIES)
    known = {p.record.paper_id for p in list_papers(library_dir)}
    assert len(queries) >= 80
    assert len({q.id for q in queries}) == len(queries) and len({q.query for q in queries}) == len(queries)
    assert all(q.relevant and set(q.relevant) <= known for q in queries)


def test_metrics() -> None:
    assert score_ranking(["a", "b", "c"], ("b", "z"), k=5) == (0.5, 0.5)
    assert score_ranking(["a", "b", "c", "d", "e", "f"], ("f",), k=5) == (0.0, pytest.approx(1 / 6))
    assert score_ranking([], ("a",), k=5) == (0.0, 0.0)


def test_retrieval_quality_on_the_labelled_set(abstracts_kb: KnowledgeBase) -> None:  # noqa: F811
    queries = load_queries(QUERIES)
    results = {method: evaluate(abstracts_kb, queries, method=method, k=5) for method in METHODS}
    table = {m: r.summary() for m, r in results.items()}
    print("\nretrieval quality (297 abstracts):", json.dumps(table, indent=1))
    hybrid, dense, bm25 = results["hybrid"], results["dense"], results["bm25"]
    assert hybrid.recall_at_k >= 0.90 and hybrid.mrr >= 0.85
    assert dense.recall_at_k >= 0.70 and bm25.recall_at_k >= 0.70
    assert hybrid.recall_at_k >= max(dense.recall_at_k, bm25.recall_at_k) - 0.03, "fusion does not lose recall"


def test_hits_carry_scores_citations_and_ranks(abstracts_kb: KnowledgeBase) -> None:  # noqa: F811
    hits = abstracts_kb.search("Mamba: linear-time sequence modeling with selective state spaces", k=5)
    assert len(hits) == 5 and "mamba" in [h.paper_id for h in hits[:2]]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    top = next(h for h in hits if h.paper_id == "mamba")
    assert top.ranks["bm25"] == 1, "its own title is the best keyword match"
    assert top.title.startswith("Mamba") and top.authors == ("Albert Gu", "Tri Dao") and top.year == 2023
    assert top.citation.startswith("Albert Gu and Tri Dao (2023). Mamba: Linear-Time Sequence Modeling")
    assert set(top.ranks) <= {"dense", "bm25", "name"} and top.ranks["name"] == 1, "the query names it"
    assert top.as_reference()["paper_id"] == "mamba"


def test_metadata_filters_on_the_library(abstracts_kb: KnowledgeBase) -> None:  # noqa: F811
    recent = abstracts_kb.search("state space model", k=20, filters={"year": {"$gte": 2024}})
    assert len(recent) == 20 and all(h.year >= 2024 for h in recent)
    assert "mamba" not in {h.paper_id for h in recent}, "Mamba (2023) is filtered out"
    chosen = abstracts_kb.search("attention", k=10, filters={"paper_id": {"$in": ["s4", "hippo"]}})
    assert {h.paper_id for h in chosen} == {"s4", "hippo"}
    window = abstracts_kb.search("position", k=30, method="bm25",
                                 filters={"$and": [{"year": {"$gte": 2020}}, {"year": {"$lte": 2021}}]})
    assert window and all(2020 <= h.year <= 2021 for h in window)


def test_references_for_a_proposal_theme_and_its_parents(abstracts_kb: KnowledgeBase) -> None:  # noqa: F811
    parent = ("A recurrent block with a selective state space layer: the step size, B and C are functions "
              "of the input, computed with a hardware-aware parallel scan.")
    refs = abstracts_kb.references_for("extend the context window with rotary position interpolation", [parent], k=6)
    ids = [h.paper_id for h in refs]
    assert len(ids) == 6 and len(set(ids)) == 6, "one passage per paper"
    assert {"pi", "yarn"} & set(ids[:3]), ids
    theme_alone = [h.paper_id for h in abstracts_kb.search("extend the context window with rotary position "
                                                           "interpolation", k=3, max_per_paper=1)]
    parent_alone = [h.paper_id for h in abstracts_kb.search(parent, k=3, max_per_paper=1)]
    assert set(theme_alone) <= set(ids), "half the places (rounded up) go to the theme"
    assert set(parent_alone) <= set(ids), "the rest go to the parent design's topic"
    text = format_references(refs)
    assert text.startswith("[1] ") and "(id: " in text
    assert abstracts_kb.references_for("  ", []) == []


def _anthropic_server(ranking: list[int], seen: list[dict]) -> httpx2.Client:
    """The Anthropic SDK speaks through httpx2 (the OpenAI SDK through httpx)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        assert request.url.path == "/v1/messages"
        return httpx2.Response(200, json={
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [{"type": "text", "text": json.dumps({"ranking": ranking})}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        })

    return httpx2.Client(transport=httpx2.MockTransport(handler))


def test_the_llm_reranker_reorders_through_the_anthropic_api(abstracts_store: Path) -> None:  # noqa: F811
    seen: list[dict] = []
    complete = anthropic_complete("claude-test", api_key="test", http_client=_anthropic_server([3, 1, 2], seen))
    pool = KnowledgeBase(abstracts_store).search("rotary position embedding", k=20)  # what the reranker sees
    reranked = KnowledgeBase(abstracts_store, complete=complete).search("rotary position embedding", k=3)
    assert len(seen) == 1 and "rotary position embedding" in seen[0]["messages"][0]["content"]
    assert "[20] (" in seen[0]["messages"][0]["content"]
    assert [h.chunk_id for h in reranked] == [pool[2].chunk_id, pool[0].chunk_id, pool[1].chunk_id]
    assert reranked[0].ranks["llm"] == 1
    plain = KnowledgeBase(abstracts_store).search("rotary position embedding", k=3)
    unranked = KnowledgeBase(abstracts_store, complete=complete).search("rotary position embedding", k=3, rerank=False)
    assert [h.chunk_id for h in unranked] == [h.chunk_id for h in plain] and len(seen) == 1


def test_the_llm_reranker_works_through_the_openai_api_and_survives_errors(abstracts_store: Path) -> None:  # noqa: F811
    def ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={
            "id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-test",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": '{"ranking": [2, 1]}'}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    pool = KnowledgeBase(abstracts_store).search("multi-query attention", k=20)
    good = openai_complete("gpt-test", api_key="t", http_client=httpx.Client(transport=httpx.MockTransport(ok)))
    reranked = KnowledgeBase(abstracts_store, complete=good).search("multi-query attention", k=2)
    assert [h.chunk_id for h in reranked] == [pool[1].chunk_id, pool[0].chunk_id]

    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "boom"}})

    failing = openai_complete("gpt-test", api_key="t", http_client=httpx.Client(transport=httpx.MockTransport(down)))
    kept = KnowledgeBase(abstracts_store, complete=failing).search("multi-query attention", k=2)
    assert [h.chunk_id for h in kept] == [h.chunk_id for h in pool[:2]], "a failing provider leaves the fused order"


def test_the_reranker_is_configured_from_the_environment() -> None:
    assert complete_from_env({}) is None
    assert complete_from_env({"ANTHROPIC_API_KEY": "k"}) is not None
    assert complete_from_env({"OPENAI_API_KEY": "k", "GENESYS_RERANK_PROVIDER": "none"}) is None
    with pytest.raises(ValueError, match="anthropic or openai"):
        complete_from_env({"GENESYS_RERANK_PROVIDER": "mystery"})


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_quality_holds_when_full_text_is_mixed_in(
    tmp_path_factory: pytest.TempPathFactory, library_dir: Path  # noqa: F811
) -> None:
    """All abstracts plus the full text of 30 papers drawn at random (seeded): thousands of passages that
    compete with the abstracts. The whole library's full text is measured by benchmarks/bench_knowledge.py."""
    import random

    from test_knowledge_fixtures import cached_store

    papers = sorted(p.record.paper_id for p in list_papers(library_dir))
    subset = sorted(random.Random(0).sample(papers, 30))
    kb = KnowledgeBase(cached_store("kb-fulltext-subset", tmp_path_factory))
    kb.import_library(library_dir, include_fulltext=False)
    kb.import_library(library_dir, paper_ids=subset)
    assert kb.stats()["chunks"] > 297 + 30 * 10
    queries = load_queries(QUERIES)
    results = {method: evaluate(kb, queries, method=method, k=5) for method in METHODS}
    print("\nretrieval quality (297 abstracts + 30 full texts):",
          json.dumps({m: r.summary() for m, r in results.items()}, indent=1))
    assert results["hybrid"].recall_at_k >= 0.8 and results["hybrid"].mrr >= 0.7
