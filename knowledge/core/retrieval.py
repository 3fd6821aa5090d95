"""Hybrid retrieval: dense similarity and BM25F, fused by weighted reciprocal rank fusion with a prior.

Dense retrieval finds paraphrases ("attention that is linear in sequence length"); BM25F finds rare terms
("ALiBi", "Nyström") and weighs a word in a title (or a paper's short name, "RetNet") above the same word in
a passage. Reciprocal rank fusion (Cormack et al., 2009) combines rankings without calibrating their scores
against each other: score = sum over rankings of w / (k + rank). A small prior for canonical papers (cited
often, in the world and inside the knowledge base) breaks near-ties towards the paper a researcher most
likely means. Two more rankings exist, off by default: the papers the query names, and the papers the best
results build on. The weights were chosen on the labelled questions, cross-validated
(benchmarks/bench_knowledge.py --tune; the numbers are in knowledge/README.md).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .bm25 import BM25Index
from .embedding import embed_texts
from .filters import Filters, matches, to_chroma_where, validate
from .names import NameIndex
from .records import Hit, citation_string
from .store import ChunkStore

RRF_K = 60
METHODS = ("hybrid", "dense", "bm25")

#: BM25F field weights: a word in the title counts most, then the abstract, then a passage of the body.
#: A passage of the body carries its paper's title in a field of its own ("passage_title"), and its text
#: weighs 0.3 of an abstract's 1.5: a passage may only mention what an abstract is about. Chosen on the
#: labelled questions over all abstracts + 30 full texts (tests/test_knowledge_retrieval.py, slow test):
#: body 1.0 -> 0.5 -> 0.3 gave hybrid recall@5 / MRR 0.821/0.725 -> 0.858/0.783 -> 0.883/0.812.
FIELD_WEIGHTS: dict[str, float] = {
    "title": 5.0, "abstract": 1.5, "section": 1.0, "passage_title": 5.0, "body": 0.3,
}


@dataclass(frozen=True)
class Fusion:
    """Weights of each ranking in the fused score (w / (k + rank)), and of the canonical-paper prior.

    The defaults were chosen by `benchmarks/bench_knowledge.py --tune` on the 94 labelled questions
    (recall@5 + MRR; two-fold cross-validated estimate 0.926 / 0.871). Keywords outweigh embeddings 3:1
    (MiniLM misses method names); `name` and `cited` are off: any positive weight cost more (a query that
    mentions Mamba in passing, "can Mamba learn in context", then gets Mamba above its answer) than it
    gained. Names still act through BM25F's title field, and the `name` rank is still reported on hits.
    """

    dense: float = 0.5
    bm25: float = 1.5
    name: float = 0.0
    prior: float = 0.25
    cited: float = 0.0
    k: int = RRF_K

    def weight(self, method: str) -> float:
        return float(getattr(self, method))


DEFAULT_FUSION = Fusion()


@dataclass
class Candidate:
    chunk_id: str
    score: float
    ranks: dict[str, int]
    text: str | None = None
    meta: dict[str, Any] | None = None


@dataclass
class Rankings:
    """What each retriever proposed for one query: the input of fusion (kept apart so it can be tuned)."""

    lists: dict[str, list[str]] = field(default_factory=dict)  # method -> chunk ids, best first
    candidates: dict[str, Candidate] = field(default_factory=dict)
    priors: dict[str, float] = field(default_factory=dict)  # chunk id -> its paper's prior in [0, 1]


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[str]], k: int = RRF_K, weights: Mapping[str, float] | None = None
) -> list[tuple[str, float]]:
    """Fused (id, score) pairs, best first; ties keep the order of first appearance."""
    scores: dict[str, float] = {}
    for method, ranking in rankings.items():
        weight = 1.0 if weights is None else weights.get(method, 1.0)
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def fuse(rankings: Rankings, fusion: Fusion = DEFAULT_FUSION) -> list[tuple[str, float]]:
    """Weighted RRF over the rankings plus `fusion.prior` x the paper's prior on the scale of a first rank."""
    fused = dict(reciprocal_rank_fusion(rankings.lists, fusion.k, {m: fusion.weight(m) for m in rankings.lists}))
    if fusion.prior:
        bonus = fusion.prior / (fusion.k + 1)
        for chunk_id in fused:
            fused[chunk_id] += bonus * rankings.priors.get(chunk_id, 0.0)
    order = {cid: i for i, cid in enumerate(fused)}
    return sorted(fused.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def chunk_fields(title: str, section: str, kind: str, text: str, names: Sequence[str] = ()) -> dict[str, str]:
    """The BM25F fields of a chunk: its paper's title with the paper's short names ("RetNet" for "Retentive
    network"), its section heading, and its text. An abstract's fields are "title" and "abstract" (it says
    what the paper is about); a passage's are "passage_title" and "body" (it may only mention it)."""
    head = " ".join([title.strip(), *[n for n in names if n.lower() not in title.lower()]])
    if kind == "abstract":
        fields = {"title": head, "abstract": text}
    else:
        fields = {"passage_title": head, "body": text}
    if section and section.strip().lower() not in {title.strip().lower(), "abstract"}:
        fields["section"] = section.strip()
    return fields


def paper_priors(records: Sequence[Any]) -> dict[str, float]:
    """A prior in [0, 1] per paper: how canonical it is, from its citation count and how many papers in the
    knowledge base build on it (log-scaled, each divided by its maximum, averaged)."""
    cited_by: dict[str, int] = {}
    for record in records:
        for cited in record.cites:
            cited_by[cited] = cited_by.get(cited, 0) + 1
    counts = {r.paper_id: math.log1p(max(r.citation_count or 0, 0)) for r in records}
    inside = {r.paper_id: math.log1p(cited_by.get(r.paper_id, 0)) for r in records}
    top_count = max(counts.values(), default=0.0) or 1.0
    top_inside = max(inside.values(), default=0.0) or 1.0
    return {p: 0.5 * counts[p] / top_count + 0.5 * inside[p] / top_inside for p in counts}


class KeywordIndex:
    """BM25F over every stored chunk, the papers' names and priors, held in memory and rebuilt when the
    store's generation changes."""

    def __init__(self, store: Any, field_weights: Mapping[str, float] | None = None) -> None:
        self.store = store
        self.field_weights = dict(FIELD_WEIGHTS if field_weights is None else field_weights)
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._index: BM25Index | None = None
        self._ids: list[str] = []
        self._metas: list[dict[str, Any]] = []
        self._positions: dict[str, int] = {}
        self._by_paper: dict[str, list[int]] = {}  # paper id -> chunk positions, abstract first
        self._names = NameIndex([])
        self._priors: dict[str, float] = {}
        self._cites: dict[str, tuple[str, ...]] = {}

    def _current(self) -> tuple[BM25Index, list[str], list[dict[str, Any]]]:
        generation = self.store.generation()
        with self._lock:
            if self._index is None or generation != self._generation:
                ids: list[str] = []
                metas: list[dict[str, Any]] = []
                texts: list[str] = []
                abstracts: dict[str, str] = {}
                titles: dict[str, str] = {}
                by_paper: dict[str, list[int]] = {}
                for chunk_id, text, meta in self.store.iter_chunks():
                    title, kind, paper = str(meta.get("title", "")), str(meta.get("kind", "")), str(meta.get("paper_id", ""))
                    by_paper.setdefault(paper, []).append(len(ids))
                    ids.append(chunk_id)
                    metas.append(meta)
                    texts.append(text)
                    titles.setdefault(paper, title)
                    if kind == "abstract":
                        abstracts[paper] = abstracts.get(paper, "") + " " + text
                self._names = NameIndex((p, titles[p], abstracts.get(p, "")) for p in titles)
                names = self._names.by_paper()
                documents = (
                    chunk_fields(str(meta.get("title", "")), str(meta.get("section", "")), str(meta.get("kind", "")),
                                 text, sorted(names.get(str(meta.get("paper_id", "")), ())))
                    for text, meta in zip(texts, metas, strict=True)
                )
                self._index = BM25Index(documents, field_weights=self.field_weights)
                for positions in by_paper.values():
                    positions.sort(key=lambda i: (metas[i].get("kind") != "abstract", int(metas[i].get("chunk_index", 0))))
                records = [record for record, _ in self.store.all_papers()]
                self._priors = paper_priors(records)
                self._cites = {r.paper_id: tuple(r.cites) for r in records}
                self._ids, self._metas, self._generation = ids, metas, generation
                self._positions = {cid: i for i, cid in enumerate(ids)}
                self._by_paper = by_paper
            return self._index, self._ids, self._metas

    def warm(self) -> None:
        self._current()

    def metadata(self, chunk_id: str) -> dict[str, Any] | None:
        self._current()
        position = self._positions.get(chunk_id)
        return None if position is None else self._metas[position]

    def prior(self, paper_id: str) -> float:
        self._current()
        return self._priors.get(paper_id, 0.0)

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

    def named(
        self, query: str, pool: Mapping[str, int], n: int, filters: Filters | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """Chunks of the papers `query` names, in the order named (see `papers_chunks`)."""
        self._current()
        return self.papers_chunks([m.paper_id for m in self._names.find(query)], pool, n, filters)

    def built_upon(self, ranked_papers: Sequence[Sequence[str]], depth: int = 10, k: int = RRF_K) -> list[str]:
        """Papers that the best results build on, most supported first: each of the first `depth` papers of
        each ranking votes 1 / (k + rank) for every paper it cites. For "state space model selective scan"
        the dozen papers that extend Mamba all vote for Mamba."""
        self._current()
        support: dict[str, float] = {}
        for ranking in ranked_papers:
            for rank, paper in enumerate(ranking[:depth], start=1):
                for cited in self._cites.get(paper, ()):
                    if cited != paper:
                        support[cited] = support.get(cited, 0.0) + 1.0 / (k + rank)
        return sorted(support, key=lambda p: -support[p])

    def papers_chunks(
        self, paper_ids: Sequence[str], pool: Mapping[str, int], n: int, filters: Filters | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """The chunks of `paper_ids`, paper by paper: each paper's abstract, then its chunks that a retriever
        proposed (`pool`: chunk id -> best rank there), best first; at most `n`, within `filters`."""
        self._current()
        out: list[tuple[str, dict[str, Any]]] = []
        for paper_id in paper_ids:
            positions = self._by_paper.get(paper_id, [])
            chosen = [i for i in positions[:1] if self._metas[i].get("kind") == "abstract"]
            chosen += sorted((i for i in positions if self._ids[i] in pool and i not in chosen),
                             key=lambda i: pool[self._ids[i]])
            for position in chosen:
                meta = self._metas[position]
                if filters and not matches(meta, filters):
                    continue
                out.append((self._ids[position], meta))
                if len(out) >= n:
                    return out
        return out

    def names_of(self, paper_id: str) -> set[str]:
        self._current()
        return self._names.names_of(paper_id)


class Retriever:
    def __init__(self, store: ChunkStore, fusion: Fusion = DEFAULT_FUSION) -> None:
        self.store = store
        self.keywords = KeywordIndex(store)
        self.fusion = fusion

    def search(
        self,
        query: str,
        k: int = 5,
        filters: Filters | None = None,
        method: str = "hybrid",
        max_per_paper: int | None = None,
        candidates: int | None = None,
        fusion: Fusion | None = None,
    ) -> list[Hit]:
        """The `k` best chunks for `query`; `max_per_paper` spreads them over papers.

        "dense" ranks by embeddings alone; "bm25" (keywords) by BM25F (papers' short names are in its title
        field; the `name` ranking joins with `fusion.name`); "hybrid" fuses them with the canonical-paper
        prior (and the cited-by-results ranking where `fusion.cited` > 0). `fusion` overrides the defaults."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}")
        validate(filters)
        query = query.strip()
        if not query or k <= 0:
            return []
        # Each retriever proposes a pool; a per-paper limit needs a deeper one (a paper has many chunks).
        pool = candidates or (max(50, 2 * k) if max_per_paper is None else max(100, 6 * k))
        fusion = fusion or self.fusion
        rankings = self.rankings(query, pool, filters, method, every=fusion.cited > 0)
        if method == "dense":
            ranked = [rankings.candidates[cid] for cid in rankings.lists["dense"]]
        else:
            if method == "bm25":
                fusion = Fusion(dense=0.0, bm25=fusion.bm25, name=fusion.name, prior=0.0, cited=0.0, k=fusion.k)
            ranked = []
            for cid, score in fuse(rankings, fusion):
                rankings.candidates[cid].score = score
                ranked.append(rankings.candidates[cid])
        chosen = _limit_per_paper(ranked, k, max_per_paper)
        return self._materialise(chosen)

    def rankings(
        self, query: str, pool: int, filters: Filters | None = None, method: str = "hybrid", every: bool = False
    ) -> Rankings:
        """Each retriever's ranking of `query` (the dense one only for "dense"/"hybrid"), with priors; the
        "cited" ranking only where it weighs something, or `every` ranking (for tuning)."""
        out = Rankings()
        known = out.candidates
        if method in ("dense", "hybrid"):
            dense = self._dense(query, pool, filters)
            out.lists["dense"] = [cid for cid, _, _, _ in dense]
            for rank, (cid, score, text, meta) in enumerate(dense, start=1):
                known[cid] = Candidate(cid, score, {"dense": rank}, text, meta)
        if method in ("bm25", "hybrid"):
            keyword = self.keywords.top(query, pool, filters)
            out.lists["bm25"] = [cid for cid, _, _ in keyword]
            for rank, (cid, score, meta) in enumerate(keyword, start=1):
                known.setdefault(cid, Candidate(cid, score, {}, None, meta)).ranks["bm25"] = rank
            best = {cid: min(c.ranks.values()) for cid, c in known.items()}
            named = self.keywords.named(query, best, pool, filters)
            if named:
                out.lists["name"] = [cid for cid, _ in named]
                for rank, (cid, meta) in enumerate(named, start=1):
                    known.setdefault(cid, Candidate(cid, 0.0, {}, None, meta)).ranks["name"] = rank
            if method == "hybrid" and (every or self.fusion.cited > 0):
                paper_lists = [distinct([str((known[c].meta or {}).get("paper_id", "")) for c in out.lists[m]])
                               for m in ("dense", "bm25")]
                cited = self.keywords.papers_chunks(self.keywords.built_upon(paper_lists), best, pool, filters)
                if cited:
                    out.lists["cited"] = [cid for cid, _ in cited]
                    for rank, (cid, meta) in enumerate(cited, start=1):
                        known.setdefault(cid, Candidate(cid, 0.0, {}, None, meta)).ranks["cited"] = rank
        for cid, candidate in known.items():
            out.priors[cid] = self.keywords.prior(str((candidate.meta or {}).get("paper_id", "")))
        return out

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


def distinct(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


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
