"""Chunking, keyword scoring, filters, rank fusion and reranker parsing: the parts without a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_knowledge_fixtures import MARKDOWN_PAPER, PYTHON_UNIT, library_dir  # noqa: F401

from knowledge.core.bm25 import BM25Index, tokenize
from knowledge.core.chunking import chunk_markdown, chunk_python, chunk_text, looks_like_bibliography
from knowledge.core.filters import FilterError, matches, to_chroma_where, validate
from knowledge.core.records import Hit
from knowledge.core.rerank import LLMReranker, parse_ranking, rerank_prompt
from knowledge.core.retrieval import reciprocal_rank_fusion

LONG_SECTION = "\n\n".join(
    f"Paragraph {i} explains how the recurrent state of layer {i} is updated with a gate and why the "
    f"decay keeps the memory bounded when sequences grow long. It then compares against attention." for i in range(30)
)


def test_markdown_chunks_follow_sections_and_respect_the_size() -> None:
    chunks = chunk_markdown(MARKDOWN_PAPER + "\n## 3 Analysis\n\n" + LONG_SECTION, max_chars=600, overlap=100)
    sections = [c.section for c in chunks]
    assert sections[0] == "Chunked Delta Memory for Recurrent Language Models" or "Abstract" in sections
    assert {"Abstract", "1 Method", "2 Experiments", "3 Analysis"} <= set(sections)
    assert all(len(c.text) <= 600 for c in chunks)
    assert sum(1 for s in sections if s == "3 Analysis") >= 5


def test_consecutive_prose_chunks_overlap() -> None:
    chunks = chunk_text(LONG_SECTION, max_chars=500, overlap=120)
    assert len(chunks) > 3
    for before, after in zip(chunks, chunks[1:], strict=False):
        head = after.text.split("\n\n")[0]
        assert head in before.text, "each chunk starts with the tail of the one before"


def test_one_huge_paragraph_is_split_by_sentences_then_words() -> None:
    paragraph = " ".join(f"Sentence number {i} talks about selective state spaces." for i in range(200))
    unbroken = "x" * 5000
    chunks = chunk_text(paragraph + "\n\n" + unbroken, max_chars=800, overlap=100)
    assert all(len(c.text) <= 800 for c in chunks)
    assert "".join(c.text for c in chunks).count("x") >= 5000


def test_reference_sections_and_reference_lists_are_left_out(library_dir: Path) -> None:  # noqa: F811
    text = MARKDOWN_PAPER + "\n## References\n\nGu, A. and Dao, T. Mamba. arXiv preprint arXiv:2312.00752, 2023.\n"
    assert all(c.section != "References" for c in chunk_markdown(text))
    pieces = json.loads((library_dir / "fulltext" / "gla.json").read_text())
    joined = "\n\n".join(pieces.values())
    kept = chunk_markdown(joined)
    everything = chunk_markdown(joined, skip_bibliography=False)
    dropped = [c for c in everything if c not in kept]
    assert 10 <= len(dropped) < len(everything) / 2
    assert all(looks_like_bibliography(c.text) for c in dropped)
    assert any("arXiv preprint" in c.text for c in dropped)
    assert not looks_like_bibliography(pieces["gla-1"][:1000]), "prose with in-text citations is kept"


def test_python_is_chunked_by_definitions() -> None:
    chunks = chunk_python(PYTHON_UNIT)
    sections = [c.section for c in chunks]
    assert sections == ["module", "class GatedMLP", "def rotary_frequencies"]
    assert chunks[1].text.startswith("class GatedMLP") and "def forward" in chunks[1].text
    assert "import torch" in chunks[0].text and "WIDTH = 4" in chunks[0].text


def test_a_large_class_is_split_per_method_with_its_class_line() -> None:
    methods = "\n\n".join(f"    def method_{i}(self):\n        return {i}  # {'padding ' * 12}" for i in range(20))
    source = f"@decorated\nclass Big:\n    '''Doc.'''\n    size = 3\n\n{methods}\n"
    chunks = chunk_python(source, max_chars=400)
    assert chunks[0].section == "class Big" and chunks[0].text.startswith("@decorated")
    assert [c.section for c in chunks[1:]] == [f"Big.method_{i}" for i in range(20)]
    assert all(c.text.startswith("class Big:") for c in chunks[1:])


def test_unparsable_python_is_still_chunked() -> None:
    chunks = chunk_python("def broken(:\n    pass\n")
    assert chunks and "broken" in chunks[0].text


def test_bm25_ranks_exact_terms_and_matches_word_forms() -> None:
    docs = [
        "Rotary position embeddings rotate queries and keys.",
        "Gated linear attention with data-dependent gates.",
        "A gating mechanism for the recurrent models.",
        "Attention is all you need.",
    ]
    index = BM25Index(docs)
    assert [p for p, _ in index.top("gated models", 3)] == [2, 1], "gating/gated/gates and models/model match"
    assert [p for p, _ in index.top("rotary", 5)] == [0]
    assert tokenize("State-space models") == ["stat", "spac", "statespace", "model"]
    assert tokenize("the modelling of biases") == tokenize("modeled bias")
    assert index.idf("attention") < index.idf("rotary"), "rarer terms weigh more"
    assert index.top("nothing matches this", 5) == []


def test_filters_translate_to_chroma_and_match_in_python() -> None:
    filters = {"year": {"$gte": 2022}, "kind": "fulltext", "paper_id": {"$in": ["mamba", "s4"]}}
    assert to_chroma_where(filters) == {"$and": [
        {"year": {"$gte": 2022}}, {"kind": {"$eq": "fulltext"}}, {"paper_id": {"$in": ["mamba", "s4"]}}]}
    assert matches({"year": 2023, "kind": "fulltext", "paper_id": "mamba"}, filters)
    assert not matches({"year": 2021, "kind": "fulltext", "paper_id": "mamba"}, filters)
    assert not matches({"kind": "fulltext", "paper_id": "mamba"}, filters), "a missing year fails $gte"
    assert matches({"year": 2020}, {"$or": [{"year": 2020}, {"year": 2021}]})
    for bad in ({"year": {"$like": 3}}, {"$xor": []}, {"year": {"$in": 3}}, {"year": [1, 2]}):
        with pytest.raises(FilterError):
            validate(bad)


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion({"dense": ["a", "b", "c"], "bm25": ["d", "b", "e"]})
    assert [item for item, _ in fused][:3] == ["b", "a", "d"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 62)


def _hits(n: int) -> list[Hit]:
    return [Hit(chunk_id=f"c{i}", text=f"passage {i}", score=1.0 / (i + 1), paper_id=f"p{i}", title=f"T{i}") for i in range(n)]


def test_reranker_reorders_and_falls_back_on_bad_replies() -> None:
    assert parse_ranking('Sure: {"ranking": [3, 1]}', 3) == [2, 0, 1]
    assert parse_ranking("[2, 2, 9, 1]", 3) == [1, 0, 2]
    assert parse_ranking("no idea", 3) is None
    prompts: list[str] = []

    def complete(prompt: str) -> str:
        prompts.append(prompt)
        return '{"ranking": [4, 3, 2, 1]}'

    reranked = LLMReranker(complete).rerank("gating", _hits(4))
    assert [h.chunk_id for h in reranked] == ["c3", "c2", "c1", "c0"]
    assert reranked[0].ranks["llm"] == 1
    assert "Query: gating" in prompts[0] and "[4] (T3)" in prompts[0]

    def broken(prompt: str) -> str:
        raise TimeoutError("provider down")

    assert [h.chunk_id for h in LLMReranker(broken).rerank("q", _hits(3))] == ["c0", "c1", "c2"]
    assert "$" not in rerank_prompt("q", _hits(2)), "every template placeholder is filled"
