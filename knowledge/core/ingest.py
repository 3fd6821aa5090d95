"""Embed documents and write them to the store, skipping what is already there.

Idempotence: the catalog keeps, per paper, the content hash of each ingested document. A document whose
hash is unchanged is skipped without embedding anything; a changed one replaces its old chunks. Chunks of
many documents are embedded together in batches (a library abstract is one chunk: embedding it alone
would waste the batch), and each document is written as soon as its last chunk is embedded, so an
interrupted import keeps what it finished. `progress(done, total, message)` is called after each batch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .documents import SUPPORTED_SUFFIXES, Document, read_document
from .embedding import DIMENSIONS, embed_texts
from .records import PaperRecord, searchable_text
from .store import ChunkStore

ProgressFn = Callable[[int, int, str], None]

EMBED_BATCH = 256


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)  # document keys written
    skipped: list[str] = field(default_factory=list)  # document keys already present with the same hash
    chunks_added: int = 0
    paper_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def merge(self, other: IngestReport) -> None:
        self.added += other.added
        self.skipped += other.skipped
        self.chunks_added += other.chunks_added
        self.paper_ids += [p for p in other.paper_ids if p not in self.paper_ids]
        self.seconds += other.seconds


def merge_papers(old: PaperRecord | None, new: PaperRecord) -> PaperRecord:
    """New non-empty fields win; citation links are united (an upload must not drop the library's)."""
    if old is None:
        return new
    values: dict[str, Any] = {}
    for name in PaperRecord.__dataclass_fields__:
        fresh = getattr(new, name)
        values[name] = fresh if fresh not in (None, "", ()) else getattr(old, name)
    values["cites"] = tuple(dict.fromkeys(old.cites + new.cites))
    if old.source == "library":
        values["source"] = "library"
    return PaperRecord(**values)


def chunk_metadata(document: Document, index: int) -> dict[str, Any]:
    paper = document.paper
    chunk = document.chunks[index]
    meta: dict[str, Any] = {
        "paper_id": paper.paper_id,
        "doc_key": document.doc_key,
        "content_hash": document.content_hash,
        "kind": document.kind,
        "origin": document.origin,
        "source": paper.source,
        "title": paper.title,
        "authors": json.dumps(list(paper.authors)),
        "venue": paper.venue,
        "arxiv_id": paper.arxiv_id,
        "s2id": paper.s2id,
        "section": chunk.section,
        "chunk_index": index,
        "n_chunks": len(document.chunks),
    }
    if paper.year is not None:
        meta["year"] = paper.year
    return meta


class Ingestor:
    def __init__(self, store: ChunkStore, batch_size: int = EMBED_BATCH) -> None:
        self.store = store
        self.batch_size = batch_size

    def ingest(self, documents: Iterable[Document], progress: ProgressFn | None = None) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        catalog: dict[str, tuple[PaperRecord, dict[str, str]] | None] = {}
        pending: list[Document] = []
        for document in documents:
            pid = document.paper.paper_id
            if pid not in catalog:
                catalog[pid] = self.store.get_paper(pid)
            entry = catalog[pid]
            if pid not in report.paper_ids:
                report.paper_ids.append(pid)
            if entry is not None and entry[1].get(document.doc_key) == document.content_hash:
                report.skipped.append(document.doc_key)
                # Metadata may still be news (e.g. citation links added to the library files).
                merged = merge_papers(entry[0], document.paper)
                if merged != entry[0]:
                    self.store.put_paper(merged, entry[1])
                    catalog[pid] = (merged, entry[1])
            else:
                pending.append(document)

        total = sum(len(d.chunks) for d in pending)
        if progress:
            progress(0, total, f"{len(pending)} documents to embed, {len(report.skipped)} unchanged")
        vectors = [np.zeros((len(d.chunks), DIMENSIONS), dtype=np.float32) for d in pending]
        remaining = [len(d.chunks) for d in pending]
        for position, document in enumerate(pending):
            if not document.chunks:
                self._write(document, vectors[position], catalog, report)
        work = [(d, c) for d, document in enumerate(pending) for c in range(len(document.chunks))]
        done = 0
        for start in range(0, len(work), self.batch_size):
            batch = work[start : start + self.batch_size]
            texts = [
                searchable_text(pending[d].paper.title, pending[d].chunks[c].section, pending[d].chunks[c].text)
                for d, c in batch
            ]
            embedded = embed_texts(texts)
            for (d, c), vector in zip(batch, embedded, strict=True):
                vectors[d][c] = vector
                remaining[d] -= 1
                if remaining[d] == 0:
                    self._write(pending[d], vectors[d], catalog, report)
            done += len(batch)
            if progress:
                progress(done, total, pending[batch[-1][0]].paper.title)
        if pending:
            self.store.bump_generation()
        report.seconds = time.perf_counter() - started
        return report

    def _write(
        self,
        document: Document,
        vectors: np.ndarray,
        catalog: dict[str, tuple[PaperRecord, dict[str, str]] | None],
        report: IngestReport,
    ) -> None:
        self.store.delete_document(document.doc_key)
        if document.chunks:
            ids = [f"{document.paper.paper_id}:{document.content_hash[:12]}:{i}" for i in range(len(document.chunks))]
            self.store.add_chunks(
                ids,
                [chunk.text for chunk in document.chunks],
                vectors,
                [chunk_metadata(document, i) for i in range(len(document.chunks))],
            )
        entry = catalog.get(document.paper.paper_id)
        record = merge_papers(entry[0] if entry else None, document.paper)
        hashes = dict(entry[1]) if entry else {}
        hashes[document.doc_key] = document.content_hash
        self.store.put_paper(record, hashes, vectors[0] if len(document.chunks) else None)
        catalog[document.paper.paper_id] = (record, hashes)
        report.added.append(document.doc_key)
        report.chunks_added += len(document.chunks)


def documents_under(
    path: str | Path, meta: dict[str, Any] | None = None, source: str = "file"
) -> list[Document]:
    """Documents for a file, or for every supported file under a directory (each its own paper).

    `meta` (title, authors, year, ids) applies to a single file only: files in a folder are different papers.
    """
    path = Path(path)
    if path.is_file():
        return [read_document(path, meta, source)]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or directory")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
    return [read_document(p, None, source) for p in files]


def with_paper(document: Document, paper: PaperRecord) -> Document:
    return replace(document, paper=paper)
