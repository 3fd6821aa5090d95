"""Ingestion with the real chromadb store and the real embedding model: file types, metadata,
idempotence by content hash, progress, filters, and where and how the store is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_knowledge_fixtures import MARKDOWN_PAPER, PYTHON_UNIT, make_pdf

from knowledge.core import KnowledgeBase
from knowledge.core.documents import UnsupportedFile
from knowledge.core.embedding import MiniLMEmbeddingFunction

PDF_PAGES = [
    [
        "Sliding Window Recurrence for Long Context",
        "",
        "Abstract",
        "We combine a sliding window of softmax attention with a linear recurrence that",
        "summarises the tokens that left the window.",
        "",
        "1 Introduction",
        "Attention cost grows with the square of the context length, while a recurrence keeps",
        "a fixed-size state. The hybrid keeps exact recall inside the window.",
    ],
    [
        "2 Method",
        "Tokens leaving the window are folded into the state with an exponential decay.",
        "The decay rate is predicted from the token, which makes the recurrence selective.",
    ],
]


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "paper.md").write_text(MARKDOWN_PAPER)
    (tmp_path / "gated_mlp.py").write_text(PYTHON_UNIT)
    (tmp_path / "notes.txt").write_text("Lab notes.\n\nThe tokenizer uses byte-level BPE with 50k merges.\n")
    make_pdf(tmp_path / "window.pdf", PDF_PAGES, title="Sliding Window Recurrence", author="Ada Lovelace; Alan Turing")
    return {p.suffix: p for p in tmp_path.iterdir()}


@pytest.fixture()
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return KnowledgeBase(tmp_path_factory.mktemp("store"))


def test_markdown_ingestion_keeps_metadata_and_sections(kb: KnowledgeBase, files: dict[str, Path]) -> None:
    report = kb.ingest_path(files[".md"], {"authors": "Ada Lovelace; Alan Turing", "year": 2024, "arxiv_id": "2401.00001"})
    assert report.chunks_added >= 3 and report.paper_ids == ["arxiv-2401-00001"]
    paper = kb.paper("arxiv-2401-00001")
    assert paper is not None and paper.title == "Chunked Delta Memory for Recurrent Language Models"
    assert paper.authors == ("Ada Lovelace", "Alan Turing") and paper.year == 2024
    hit = kb.search("accuracy on associative recall", k=1)[0]
    assert hit.section == "2 Experiments" and "99 percent" in hit.text
    assert hit.authors == ("Ada Lovelace", "Alan Turing") and hit.year == 2024
    assert hit.citation == ("Ada Lovelace and Alan Turing (2024). Chunked Delta Memory for Recurrent Language Models. "
                            "arXiv:2401.00001.")
    assert hit.kind == "fulltext" and hit.source == "file"


def test_pdf_ingestion_reads_text_title_authors_and_headings(kb: KnowledgeBase, files: dict[str, Path]) -> None:
    report = kb.ingest_path(files[".pdf"])
    (paper_id,) = report.paper_ids
    paper = kb.paper(paper_id)
    assert paper is not None and paper.title == "Sliding Window Recurrence"
    assert paper.authors == ("Ada Lovelace", "Alan Turing")
    hit = kb.search("decay rate predicted from the token makes the recurrence selective", k=1)[0]
    assert hit.paper_id == paper_id and hit.section == "2 Method"
    assert "exponential decay" in hit.text


def test_python_ingestion_makes_one_chunk_per_definition(kb: KnowledgeBase, files: dict[str, Path]) -> None:
    kb.ingest_path(files[".py"], {"paper_id": "unit-gated-mlp"})
    chunks = kb.chunks_of("unit-gated-mlp")
    assert {c.section for c in chunks} == {"module", "class GatedMLP", "def rotary_frequencies"}
    assert all(c.kind == "code" for c in chunks)
    hit = kb.search("inverse frequencies for rotary embeddings", k=1, filters={"kind": "code"})[0]
    assert hit.section == "def rotary_frequencies"
    assert kb.paper("unit-gated-mlp").abstract == "A gated MLP unit for the Genesys composer."


def test_a_folder_is_ingested_file_by_file_and_unknown_types_are_refused(
    kb: KnowledgeBase, files: dict[str, Path], tmp_path: Path
) -> None:
    report = kb.ingest_path(files[".md"].parent)
    assert len(report.added) == 4 and len(report.paper_ids) == 4
    (tmp_path / "figure.png").write_bytes(b"\x89PNG")
    with pytest.raises(UnsupportedFile, match="supported"):
        kb.ingest_path(tmp_path / "figure.png")


def test_reingestion_is_idempotent_by_content_hash(kb: KnowledgeBase, files: dict[str, Path]) -> None:
    first = kb.ingest_path(files[".md"], {"paper_id": "cdm"})
    count = kb.stats()["chunks"]
    again = kb.ingest_path(files[".md"], {"paper_id": "cdm"})
    assert again.added == [] and again.skipped == first.added and again.chunks_added == 0
    assert kb.stats()["chunks"] == count
    assert KnowledgeBase(kb.path).ingest_path(files[".md"], {"paper_id": "cdm"}).added == [], "also from a new process"

    files[".md"].write_text(MARKDOWN_PAPER.replace("99 percent", "97 percent") + "\n## 3 Limits\n\nIt forgets.\n")
    changed = kb.ingest_path(files[".md"], {"paper_id": "cdm"})
    assert changed.added == first.added
    texts = " ".join(c.text for c in kb.chunks_of("cdm"))
    assert "97 percent" in texts and "99 percent" not in texts, "the old chunks were replaced"
    assert kb.stats()["chunks"] == len(kb.chunks_of("cdm"))


def test_progress_is_reported_up_to_the_total(kb: KnowledgeBase, files: dict[str, Path]) -> None:
    calls: list[tuple[int, int, str]] = []
    kb.ingest_path(files[".md"].parent, progress=lambda done, total, message: calls.append((done, total, message)))
    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1] == kb.stats()["chunks"]
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_filters_apply_to_both_retrievers(kb: KnowledgeBase, files: dict[str, Path]) -> None:
    kb.ingest_path(files[".md"], {"paper_id": "new", "year": 2024})
    kb.ingest_path(files[".pdf"], {"paper_id": "old", "year": 2019})
    kb.ingest_path(files[".py"], {"paper_id": "code", "year": 2024})
    for method in ("dense", "bm25", "hybrid"):
        hits = kb.search("recurrent state memory decay", k=20, method=method, filters={"year": {"$lt": 2020}})
        assert hits and {h.paper_id for h in hits} == {"old"}, method
        hits = kb.search("recurrent state memory", k=20, method=method,
                         filters={"year": 2024, "kind": {"$ne": "code"}})
        assert hits and {h.paper_id for h in hits} == {"new"}, method
    assert kb.search("anything", filters={"paper_id": "missing"}) == []
    spread = kb.search("recurrent", k=3, max_per_paper=1)
    assert len({h.paper_id for h in spread}) == len(spread)


def test_the_store_is_a_persistent_chromadb_with_our_embedding_function(kb: KnowledgeBase, files: dict[str, Path]) -> None:
    kb.ingest_path(files[".txt"])
    assert (kb.path / "chroma" / "chroma.sqlite3").is_file()
    client = kb.store._client
    assert client.get_settings().anonymized_telemetry is False
    collection = client.get_collection("chunks", embedding_function=MiniLMEmbeddingFunction())
    config = collection.configuration_json["embedding_function"]
    assert config["name"] == "genesys-minilm-l6-v2"
    record = collection.get(include=["embeddings", "metadatas"], limit=1)
    assert len(record["embeddings"][0]) == 384 and record["metadatas"][0]["source"] == "file"
