"""The persistent vector store: a chromadb PersistentClient with two collections.

- "chunks": one record per chunk (document = chunk text, metadata = paper fields, section, kind, ...).
  Embeddings are computed by the ingester (on the chunk with its title and section) and passed in.
- "papers": the catalog, one record per paper (document = title), holding what a paper page needs and
  the content hash of each ingested document (idempotent re-ingestion).

Every time a collection is opened the embedding function is passed, so chroma never falls back to its
default model (which it would try to download). Telemetry is off. A `generation` file changes on every
write so that other processes (web workers) know to rebuild their keyword index.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.config import Settings

from .embedding import MiniLMEmbeddingFunction
from .records import PaperRecord

CHUNKS = "chunks"
PAPERS = "papers"
_READ_BATCH = 2000

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _client(path: Path) -> Any:
    """One client per directory per process (chroma refuses two with different settings on one path)."""
    key = str(path.resolve())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=key, settings=Settings(anonymized_telemetry=False, allow_reset=False)
            )
            _clients[key] = client
        return client


class ChunkStore:
    """Reads and writes chunks and catalog entries; knows nothing about chunking or ranking."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._client = _client(self.path / "chroma")
        self._embedding_function = MiniLMEmbeddingFunction()

    # --------------------------------------------------------------------------------- collections

    def _collection(self, name: str) -> Any:
        return self._client.get_or_create_collection(
            name=name,
            embedding_function=self._embedding_function,
            configuration={"hnsw": {"space": "cosine"}},
        )

    @property
    def max_batch(self) -> int:
        return int(min(self._client.get_max_batch_size(), 1000))

    # -------------------------------------------------------------------------------------- chunks

    def count(self) -> int:
        return int(self._collection(CHUNKS).count())

    def add_chunks(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        embeddings: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        collection = self._collection(CHUNKS)
        step = self.max_batch
        for start in range(0, len(ids), step):
            end = start + step
            collection.upsert(
                ids=list(ids[start:end]),
                documents=list(texts[start:end]),
                embeddings=embeddings[start:end],
                metadatas=list(metadatas[start:end]),
            )

    def delete_document(self, doc_key: str) -> None:
        self._collection(CHUNKS).delete(where={"doc_key": doc_key})

    def delete_paper(self, paper_id: str) -> None:
        self._collection(CHUNKS).delete(where={"paper_id": paper_id})
        self._collection(PAPERS).delete(ids=[paper_id])
        self.bump_generation()

    def query(
        self, embedding: np.ndarray, n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float, str, dict[str, Any]]]:
        """Nearest chunks as (id, cosine similarity, text, metadata), best first."""
        collection = self._collection(CHUNKS)
        total = collection.count()
        if total == 0 or n <= 0:
            return []
        result = collection.query(
            query_embeddings=[embedding],
            n_results=min(n, total),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        documents = (result.get("documents") or [[]])[0]
        metadatas = (result.get("metadatas") or [[]])[0]
        return [
            (cid, 1.0 - float(dist), doc or "", dict(meta or {}))
            for cid, dist, doc, meta in zip(ids, distances, documents, metadatas, strict=True)
        ]

    def get_chunks(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        if not ids:
            return {}
        result = self._collection(CHUNKS).get(ids=list(ids), include=["documents", "metadatas"])
        return {
            cid: (doc or "", dict(meta or {}))
            for cid, doc, meta in zip(
                result["ids"], result.get("documents") or [], result.get("metadatas") or [], strict=True
            )
        }

    def find_chunks(self, where: dict[str, Any], limit: int | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        result = self._collection(CHUNKS).get(where=where, limit=limit, include=["documents", "metadatas"])
        return [
            (cid, doc or "", dict(meta or {}))
            for cid, doc, meta in zip(
                result["ids"], result.get("documents") or [], result.get("metadatas") or [], strict=True
            )
        ]

    def iter_chunks(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every chunk as (id, text, metadata), read in pages so memory stays flat while reading."""
        collection = self._collection(CHUNKS)
        offset = 0
        while True:
            page = collection.get(limit=_READ_BATCH, offset=offset, include=["documents", "metadatas"])
            ids = page["ids"]
            if not ids:
                return
            for cid, doc, meta in zip(ids, page.get("documents") or [], page.get("metadatas") or [], strict=True):
                yield cid, doc or "", dict(meta or {})
            offset += len(ids)

    # ------------------------------------------------------------------------------------- catalog

    def put_paper(self, record: PaperRecord, documents: dict[str, str], embedding: np.ndarray | None = None) -> None:
        """Write a catalog entry; `documents` maps each ingested document's key to its content hash.

        The entry's vector is the paper's first passage (usually the abstract), handed in by the ingester,
        so the catalog costs no extra embedding; an existing entry only has its metadata replaced.
        """
        meta = record.to_metadata()
        meta["documents"] = json.dumps(documents, sort_keys=True)
        collection = self._collection(PAPERS)
        if collection.get(ids=[record.paper_id], include=[])["ids"]:
            collection.update(ids=[record.paper_id], metadatas=[meta])
            return
        collection.add(
            ids=[record.paper_id],
            documents=[record.title or record.paper_id],
            metadatas=[meta],
            embeddings=None if embedding is None else [embedding],
        )

    def get_paper(self, paper_id: str) -> tuple[PaperRecord, dict[str, str]] | None:
        result = self._collection(PAPERS).get(ids=[paper_id], include=["metadatas"])
        if not result["ids"]:
            return None
        meta = dict((result.get("metadatas") or [{}])[0] or {})
        return PaperRecord.from_metadata(meta), json.loads(meta.get("documents") or "{}")

    def all_papers(self) -> list[tuple[PaperRecord, dict[str, str]]]:
        collection = self._collection(PAPERS)
        out: list[tuple[PaperRecord, dict[str, str]]] = []
        offset = 0
        while True:
            page = collection.get(limit=_READ_BATCH, offset=offset, include=["metadatas"])
            if not page["ids"]:
                return out
            for meta in page.get("metadatas") or []:
                meta = dict(meta or {})
                out.append((PaperRecord.from_metadata(meta), json.loads(meta.get("documents") or "{}")))
            offset += len(page["ids"])

    def paper_count(self) -> int:
        return int(self._collection(PAPERS).count())

    # ---------------------------------------------------------------------------------- generation

    @property
    def _generation_file(self) -> Path:
        return self.path / "generation"

    def generation(self) -> str:
        try:
            return self._generation_file.read_text().strip()
        except FileNotFoundError:
            return ""

    def bump_generation(self) -> None:
        tmp = self._generation_file.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_text(uuid.uuid4().hex)
        tmp.replace(self._generation_file)
