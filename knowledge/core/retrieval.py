"""Hybrid retrieval: dense similarity and BM25, fused by reciprocal rank fusion, under metadata filters.

Dense retrieval finds paraphrases ("attention that is linear in sequence length"); BM25 finds names and
rare terms ("ALiBi", "Nyström"). Reciprocal rank fusion (Cormack et al., 2009) combines their rankings
without calibrating their scores against each other: score = sum over methods of 1 / (k + rank).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bm25 import BM25Index
from .embedding import embed_texts
from .filters import Filters, matches, to_chroma_where, validate
from .records import Hit, citation_string, searchable_text
from .store import ChunkStore

RRF_K = 60
METHODS = ("hybrid", "dense", "bm25")


@dataclass
class Candidate:
    chunk_id: str
    score: float
    ranks: dict[str, int]
    text: str | None = None
    meta: dict[str, Any] | None = None


def reciprocal_rank_fusion(rankings: dict[str, Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fused (id, score) pairs, best first; ties keep the order of first appearance."""
    scores: dict[str, float] = {}
    for ranking in rankings.values():
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


class KeywordIndex:
    """BM25 over every stored chunk, held in memory and rebuilt when the store's generation changes."""

    def __init__(self, store: ChunkStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._index: BM25Index | None = None
        self._ids: list[str] = []
        self._metas: list[dict[str, Any]] = []
        self._positions: dict[str, int] = {}

    def _current(self) -> tuple[BM25Index, list[str], list[dict[str, Any]]]:
        generation = self.store.generation()
        with self._lock:
            if self._index is None or generation != self._generation:
                ids: list[str] = []
                metas: list[dict[str, Any]] = []
                texts: list[str] = []
                for chunk_id, text, meta in self.store.iter_chunks():
                    ids.append(chunk_id)
                    metas.append(meta)
                    texts.append(searchable_text(str(meta.get("title", "")), str(meta.get("section", "")), text))
                self._index = BM25Index(texts)
                self._ids, self._metas, self._generation = ids, metas, generation
                self._positions = {cid: i for i, cid in enumerate(ids)}
            return self._index, self._ids, self._metas

    def warm(self) -> None:
        self._current()

    def metadata(self, chunk_id: str) -> dict[str, Any] | None:
        self._current()
        position = self._positions.get(chunk_id)
        return None if position is None else self._metas[position]

    def top(self, query: str, n: int, filters: Filters | None = None) -> list[tuple[str, float, dict[str, Any]]]:
        index, ids, metas = self._current()
        scores = index.scores(query)
        candidates = np.flatnonzero(scores > 0)
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        out: list[tuple[str, float, dict[str, Any]]] = []
        for position in order:
            meta = metas[position]
            if filters and not matches(meta, filters):
                continue
            out.append((ids[position], float(scores[position]), meta))
            if len(out) >= n:
                break
        return out


class Retriever:
    def __init__(self, store: ChunkStore) -> None:
        self.store = store
        self.keywords = KeywordIndex(store)

    def search(
        self,
        query: str,
        k: int = 5,
        filters: Filters | None = None,
        method: str = "hybrid",
        max_per_paper: int | None = None,
        candidates: int | None = None,
    ) -> list[Hit]:
        """The `k` best chunks for `query`; `max_per_paper` spreads them over papers."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}")
        validate(filters)
        query = query.strip()
        if not query or k <= 0:
            return []
        # Each retriever proposes a pool; a per-paper limit needs a deeper one (a paper has many chunks).
        pool = candidates or (max(50, 2 * k) if max_per_paper is None else max(100, 6 * k))
        ranked: list[Candidate] = []
        dense: list[tuple[str, float, str, dict[str, Any]]] = []
        keyword: list[tuple[str, float, dict[str, Any]]] = []
        if method in ("dense", "hybrid"):
            dense = self._dense(query, pool, filters)
        if method in ("bm25", "hybrid"):
            keyword = self.keywords.top(query, pool, filters)
        if method == "dense":
            ranked = [Candidate(cid, s, {"dense": r}, t, m) for r, (cid, s, t, m) in enumerate(dense, start=1)]
        elif method == "bm25":
            ranked = [Candidate(cid, s, {"bm25": r}, None, m) for r, (cid, s, m) in enumerate(keyword, start=1)]
        else:
            known: dict[str, Candidate] = {}
            for rank, (cid, _, text, meta) in enumerate(dense, start=1):
                known[cid] = Candidate(cid, 0.0, {"dense": rank}, text, meta)
            for rank, (cid, _, meta) in enumerate(keyword, start=1):
                known.setdefault(cid, Candidate(cid, 0.0, {}, None, meta)).ranks["bm25"] = rank
            fused = reciprocal_rank_fusion(
                {"dense": [c[0] for c in dense], "bm25": [c[0] for c in keyword]}
            )
            for cid, score in fused:
                known[cid].score = score
                ranked.append(known[cid])
        chosen = _limit_per_paper(ranked, k, max_per_paper)
        return self._materialise(chosen)

    def _dense(self, query: str, n: int, filters: Filters | None) -> list[tuple[str, float, str, dict[str, Any]]]:
        vector = embed_texts([query])[0]
        return self.store.query(vector, n, to_chroma_where(filters))

    def _materialise(self, chosen: list[Candidate]) -> list[Hit]:
        missing = [c.chunk_id for c in chosen if c.text is None or c.meta is None]
        fetched = self.store.get_chunks(missing)
        hits = []
        for candidate in chosen:
            if candidate.text is None or candidate.meta is None:
                if candidate.chunk_id not in fetched:
                    continue  # deleted since the keyword index was built
                candidate.text, candidate.meta = fetched[candidate.chunk_id]
            hits.append(hit_from_chunk(candidate.chunk_id, candidate.text, candidate.meta, candidate.score, candidate.ranks))
        return hits


def _limit_per_paper(ranked: list[Candidate], k: int, max_per_paper: int | None) -> list[Candidate]:
    chosen: list[Candidate] = []
    per_paper: dict[str, int] = {}
    for candidate in ranked:
        paper = str((candidate.meta or {}).get("paper_id", ""))
        if max_per_paper is not None and per_paper.get(paper, 0) >= max_per_paper:
            continue
        per_paper[paper] = per_paper.get(paper, 0) + 1
        chosen.append(candidate)
        if len(chosen) >= k:
            break
    return chosen


def hit_from_chunk(
    chunk_id: str, text: str, meta: dict[str, Any], score: float = 0.0, ranks: dict[str, int] | None = None
) -> Hit:
    authors = tuple(json.loads(meta.get("authors") or "[]"))
    year = meta.get("year")
    title = str(meta.get("title", ""))
    return Hit(
        chunk_id=chunk_id,
        text=text,
        score=float(score),
        paper_id=str(meta.get("paper_id", "")),
        title=title,
        authors=authors,
        year=int(year) if year is not None else None,
        section=str(meta.get("section", "")),
        citation=citation_string(
            title, authors, int(year) if year is not None else None, str(meta.get("venue", "")),
            str(meta.get("arxiv_id", "")), str(meta.get("s2id", "")),
        ),
        kind=str(meta.get("kind", "")),
        source=str(meta.get("source", "")),
        chunk_index=int(meta.get("chunk_index", 0)),
        ranks=dict(ranks or {}),
    )
