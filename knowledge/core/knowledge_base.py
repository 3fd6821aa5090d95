"""The knowledge engine's one entry point, for the designer's proposer, the web app and scripts.

    kb = KnowledgeBase("var/knowledge")
    kb.import_library("../shared/data/knowledge/genesys-reference-library")
    hits = kb.search("linear attention with data-dependent gating", k=5, filters={"year": {"$gte": 2022}})
    refs = kb.references_for(theme, parent_texts=[parent.proposal_text], k=5)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .filters import Filters
from .ingest import Ingestor, IngestReport, ProgressFn, documents_under
from .library import library_documents
from .records import Hit, PaperRecord
from .rerank import Complete, LLMReranker
from .retrieval import RRF_K, Retriever, hit_from_chunk
from .store import ChunkStore

#: How much of a parent design's text becomes a query (the model reads ~1,000 characters anyway).
PARENT_QUERY_CHARS = 2000


def default_path() -> Path:
    """GENESYS_KNOWLEDGE_DIR, else <GENESYS_VAR_DIR or ./var>/knowledge — never the read-only data dir."""
    explicit = os.environ.get("GENESYS_KNOWLEDGE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("GENESYS_VAR_DIR", "var")) / "knowledge"


class KnowledgeBase:
    def __init__(self, path: str | Path | None = None, complete: Complete | None = None) -> None:
        """`complete(prompt) -> text` enables the LLM reranker (see `llm.complete_from_env`)."""
        self.path = Path(path) if path is not None else default_path()
        self.store = ChunkStore(self.path)
        self.retriever = Retriever(self.store)
        self.reranker = LLMReranker(complete) if complete is not None else None

    # --------------------------------------------------------------------------------------- search

    def search(
        self,
        query: str,
        k: int = 5,
        filters: Filters | None = None,
        method: str = "hybrid",
        max_per_paper: int | None = None,
        rerank: bool = True,
    ) -> list[Hit]:
        """The `k` best chunks for `query` (method "hybrid", "dense" or "bm25"), reranked when a provider is set."""
        if self.reranker is not None and rerank:
            pool = self.retriever.search(query, max(k, self.reranker.depth), filters, method, max_per_paper)
            return self.reranker.rerank(query, pool)[:k]
        return self.retriever.search(query, k, filters, method, max_per_paper)

    def references_for(
        self, theme: str, parent_texts: list[str], k: int = 5, filters: Filters | None = None, rerank: bool = True
    ) -> list[Hit]:
        """The `k` papers (best passage of each) for a proposal's theme and its parent designs.

        Each text is searched on its own, one passage per paper. Half the places (rounded up) go to the
        theme, which is what the new proposal is about; the rest go to the parents in turn, so each parent's
        topic is represented. The chosen papers are ordered by their fused score over all searches (theme
        counted twice), so a paper relevant to both comes first.
        """
        queries = [(theme.strip(), 2.0)] + [(p.strip()[:PARENT_QUERY_CHARS], 1.0) for p in parent_texts if p.strip()]
        queries = [(q, w) for q, w in queries if q]
        if not queries or k <= 0:
            return []
        scores: dict[str, float] = {}
        best: dict[str, Hit] = {}
        rankings: list[list[str]] = []
        for query, weight in queries:
            hits = self.retriever.search(query, k * 4, filters, "hybrid", max_per_paper=1)
            rankings.append([h.paper_id for h in hits])
            for rank, hit in enumerate(hits, start=1):
                scores[hit.paper_id] = scores.get(hit.paper_id, 0.0) + weight / (RRF_K + rank)
                best.setdefault(hit.paper_id, hit)  # the first query's passage: the theme's when it has one
        has_theme = bool(theme.strip())
        theme_places = (k if len(rankings) == 1 else -(-k // 2)) if has_theme else 0
        chosen: list[str] = []

        def take(ranking: list[str]) -> bool:
            for paper_id in ranking:
                if paper_id not in chosen:
                    chosen.append(paper_id)
                    return True
            return False

        while len(chosen) < theme_places and take(rankings[0]):
            pass
        others = rankings[1:] if has_theme else rankings
        while len(chosen) < k and others and any([take(r) for r in others if len(chosen) < k]):
            pass
        for paper_id in sorted(scores, key=lambda p: -scores[p]):
            if len(chosen) >= k:
                break
            if paper_id not in chosen:
                chosen.append(paper_id)
        ranked = sorted((best[p] for p in chosen), key=lambda h: -scores[h.paper_id])
        for hit in ranked:
            hit.score = scores[hit.paper_id]
        if self.reranker is not None and has_theme and rerank:
            ranked = self.reranker.rerank(theme, ranked)
        return ranked[:k]

    # ------------------------------------------------------------------------------------ ingestion

    def ingest_path(
        self,
        path: str | Path,
        meta: dict[str, Any] | None = None,
        source: str = "file",
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Ingest a PDF, Markdown/text or Python file, or every such file under a directory."""
        return Ingestor(self.store).ingest(documents_under(path, meta, source), progress)

    def import_library(
        self,
        root: str | Path,
        paper_ids: Iterable[str] | None = None,
        include_fulltext: bool = True,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Import the reference library (all papers or those named); unchanged papers are skipped."""
        return Ingestor(self.store).ingest(library_documents(root, paper_ids, include_fulltext), progress)

    def delete_paper(self, paper_id: str) -> None:
        self.store.delete_paper(paper_id)

    # ---------------------------------------------------------------------------------------- reads

    def paper(self, paper_id: str) -> PaperRecord | None:
        entry = self.store.get_paper(paper_id)
        return entry[0] if entry else None

    def papers(self) -> list[PaperRecord]:
        return sorted((record for record, _ in self.store.all_papers()), key=lambda r: r.paper_id)

    def cited_by(self, paper_id: str) -> list[PaperRecord]:
        """Papers in the knowledge base that list `paper_id` among those they build on."""
        return [p for p in self.papers() if paper_id in p.cites]

    def chunk(self, chunk_id: str) -> Hit | None:
        found = self.store.get_chunks([chunk_id])
        if chunk_id not in found:
            return None
        text, meta = found[chunk_id]
        return hit_from_chunk(chunk_id, text, meta)

    def context(self, chunk_id: str, before: int = 2, after: int = 2) -> list[Hit]:
        """The chunk with its neighbours in the same document, in reading order."""
        found = self.store.get_chunks([chunk_id])
        if chunk_id not in found:
            return []
        meta = found[chunk_id][1]
        index = int(meta.get("chunk_index", 0))
        rows = self.store.find_chunks(
            {"$and": [
                {"doc_key": {"$eq": meta.get("doc_key", "")}},
                {"chunk_index": {"$gte": index - before}},
                {"chunk_index": {"$lte": index + after}},
            ]}
        )
        hits = [hit_from_chunk(cid, text, m) for cid, text, m in rows]
        return sorted(hits, key=lambda h: h.chunk_index)

    def chunks_of(self, paper_id: str, kind: str | None = None) -> list[Hit]:
        where: dict[str, Any] = {"paper_id": {"$eq": paper_id}}
        if kind:
            where = {"$and": [where, {"kind": {"$eq": kind}}]}
        hits = [hit_from_chunk(cid, text, m) for cid, text, m in self.store.find_chunks(where)]
        return sorted(hits, key=lambda h: (h.kind != "abstract", h.kind, h.chunk_index))

    def stats(self) -> dict[str, int]:
        return {"papers": self.store.paper_count(), "chunks": self.store.count()}

    def warm(self) -> None:
        """Load the embedding model and build the keyword index now rather than on the first query."""
        from .embedding import load_model

        load_model()
        self.retriever.keywords.warm()
