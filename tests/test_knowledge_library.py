"""The reference-library importer: papers, abstracts, full text, citation links, and idempotence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_knowledge_fixtures import SMALL_PAPERS, library_dir  # noqa: F401

from knowledge.core import KnowledgeBase
from knowledge.core.library import LibraryLayoutError, list_papers


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory: pytest.TempPathFactory, library_dir: Path) -> KnowledgeBase:  # noqa: F811
    kb = KnowledgeBase(tmp_path_factory.mktemp("kb-small"))
    kb.import_library(library_dir, paper_ids=SMALL_PAPERS)
    return kb


def test_the_library_layout_is_read_with_metadata_and_citation_links(library_dir: Path) -> None:  # noqa: F811
    papers = {p.record.paper_id: p for p in list_papers(library_dir)}
    assert len(papers) == 297
    mamba2 = papers["mamba2"].record
    assert mamba2.title.startswith("Transformers are SSMs") and mamba2.authors == ("Tri Dao", "Albert Gu")
    assert mamba2.year == 2024 and mamba2.s2id and mamba2.source == "library"
    assert papers["wgqa"].record.cites == ("gqa",)
    assert sum(1 for p in papers.values() if p.fulltext_path is not None) == 294
    with pytest.raises(LibraryLayoutError, match="not in the library"):
        list_papers(library_dir, ["no-such-paper"])
    with pytest.raises(LibraryLayoutError, match="papers/"):
        list_papers(library_dir / "fulltext")


def test_import_writes_abstracts_full_text_and_the_catalog(small_kb: KnowledgeBase) -> None:
    assert {p.paper_id for p in small_kb.papers()} == set(SMALL_PAPERS)
    for paper_id in SMALL_PAPERS:
        chunks = small_kb.chunks_of(paper_id)
        kinds = [c.kind for c in chunks]
        assert kinds[0] == "abstract" and kinds.count("abstract") == 1
        assert kinds.count("fulltext") >= 5
        assert all(c.source == "library" for c in chunks)
    abstract = small_kb.chunks_of("gqa", kind="abstract")[0]
    assert abstract.section == "Abstract" and "TL;DR:" in abstract.text


def test_citation_links_are_kept_both_ways(small_kb: KnowledgeBase) -> None:
    assert small_kb.paper("wgqa").cites == ("gqa",)
    assert [p.paper_id for p in small_kb.cited_by("gqa")] == ["wgqa"]
    assert small_kb.paper("mqa").cites == ("memcompress", "transformer"), "links to papers not imported are kept"


def test_a_chunk_is_read_in_context(small_kb: KnowledgeBase) -> None:
    hit = small_kb.search("grouped-query attention uptraining from multi-head checkpoints", k=1,
                          filters={"kind": "fulltext"})[0]
    assert hit.paper_id in {"gqa", "wgqa"}
    context = small_kb.context(hit.chunk_id, before=1, after=1)
    assert hit.chunk_id in [c.chunk_id for c in context]
    assert [c.chunk_index for c in context] == sorted(c.chunk_index for c in context)
    assert {c.paper_id for c in context} == {hit.paper_id} and len(context) >= 2


def test_a_second_import_is_a_no_op(small_kb: KnowledgeBase, library_dir: Path) -> None:  # noqa: F811
    count = small_kb.stats()["chunks"]
    report = small_kb.import_library(library_dir, paper_ids=SMALL_PAPERS)
    assert report.added == [] and len(report.skipped) == 2 * len(SMALL_PAPERS) and report.chunks_added == 0
    assert report.seconds < 5
    assert small_kb.stats()["chunks"] == count


def test_an_edited_paper_is_rewritten_and_only_that_one(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, library_dir: Path  # noqa: F811
) -> None:
    copy = tmp_path / "library"
    (copy / "papers").mkdir(parents=True)
    for paper_id in ("wgqa", "gqa"):
        shutil.copy(library_dir / "papers" / f"{paper_id}.json", copy / "papers")
    kb = KnowledgeBase(tmp_path_factory.mktemp("kb-edit"))
    first = kb.import_library(copy)
    assert len(first.added) == 2 and kb.stats()["chunks"] == 2, "abstracts only: there is no fulltext/ here"

    raw = json.loads((copy / "papers" / "wgqa.json").read_text())
    raw["title"] = "Weighted GQA (revised title)"
    raw["seed_ids"] = ["gqa", "mqa"]
    (copy / "papers" / "wgqa.json").write_text(json.dumps(raw))
    second = kb.import_library(copy)
    assert second.added == ["wgqa|library:abstract"] and second.skipped == ["gqa|library:abstract"]
    assert kb.paper("wgqa").title == "Weighted GQA (revised title)" and kb.paper("wgqa").cites == ("gqa", "mqa")
    assert kb.chunks_of("wgqa")[0].title == "Weighted GQA (revised title)"
    assert kb.stats()["chunks"] == 2
