"""Retrieval quality on a labelled query set: recall@k and MRR at paper level.

A researcher asks for papers, and one paper yields many chunks, so the ranked chunks are reduced to
distinct paper ids in order before scoring. recall@k = share of a query's relevant papers among the first
k papers; MRR = mean of 1 / rank of the first relevant paper (0 when none is within `depth` chunks).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .filters import Filters


@dataclass(frozen=True)
class LabelledQuery:
    id: str
    query: str
    relevant: tuple[str, ...]


@dataclass
class QueryResult:
    query: LabelledQuery
    papers: list[str]  # distinct paper ids, best first
    recall: float
    reciprocal_rank: float


@dataclass
class Evaluation:
    method: str
    k: int
    results: list[QueryResult] = field(default_factory=list)

    @property
    def recall_at_k(self) -> float:
        return statistics.fmean(r.recall for r in self.results) if self.results else 0.0

    @property
    def mrr(self) -> float:
        return statistics.fmean(r.reciprocal_rank for r in self.results) if self.results else 0.0

    def summary(self) -> dict[str, Any]:
        return {"method": self.method, "queries": len(self.results), f"recall@{self.k}": round(self.recall_at_k, 3),
                "mrr": round(self.mrr, 3)}


def load_queries(path: str | Path) -> list[LabelledQuery]:
    data = json.loads(Path(path).read_text())
    return [LabelledQuery(q["id"], q["query"], tuple(q["relevant"])) for q in data["queries"]]


def distinct_papers(paper_ids: list[str]) -> list[str]:
    return list(dict.fromkeys(paper_ids))


def score_ranking(papers: list[str], relevant: tuple[str, ...], k: int) -> tuple[float, float]:
    """(recall@k, reciprocal rank) of one ranked list of distinct paper ids."""
    wanted = set(relevant)
    recall = len(wanted & set(papers[:k])) / len(wanted) if wanted else 0.0
    for rank, paper in enumerate(papers, start=1):
        if paper in wanted:
            return recall, 1.0 / rank
    return recall, 0.0


def evaluate(
    knowledge_base: Any,
    queries: list[LabelledQuery],
    method: str = "hybrid",
    k: int = 5,
    depth: int = 50,
    filters: Filters | None = None,
) -> Evaluation:
    """Run every query through `knowledge_base.search` (no reranker) and score the distinct papers."""
    evaluation = Evaluation(method, k)
    for query in queries:
        hits = knowledge_base.search(query.query, k=depth, filters=filters, method=method, rerank=False)
        papers = distinct_papers([h.paper_id for h in hits])
        recall, rr = score_ranking(papers, query.relevant, k)
        evaluation.results.append(QueryResult(query, papers, recall, rr))
    return evaluation
