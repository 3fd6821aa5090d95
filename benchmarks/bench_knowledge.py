"""Benchmark of the knowledge engine on the reference library.

Measures: ingestion time of the whole library (abstracts + full text) into a fresh store, the second
import (must be a no-op), keyword-index build time, query latency (median, p95) per method, and retrieval
quality (recall@5, MRR) per method on the labelled set tests/data/knowledge_queries.json.

    .venv/bin/python benchmarks/bench_knowledge.py                    # whole library, fresh temp store
    .venv/bin/python benchmarks/bench_knowledge.py --store var/kb-bench --keep   # keep it for reuse
    .venv/bin/python benchmarks/bench_knowledge.py --store var/kb-bench          # reuse: import is a no-op
    .venv/bin/python benchmarks/bench_knowledge.py --abstracts-only   # ~300 chunks, a minute
    .venv/bin/python benchmarks/bench_knowledge.py --abstracts-only --store var/kb-abs --keep --tune

--tune chooses the fusion weights (dense, bm25, name, prior, cited) and the BM25F title weight by grid
search on the odd-numbered queries and reports them on the even-numbered ones, and the other way round
(two-fold cross-validation: the held-out numbers estimate what the procedure gives on new questions); then it
chooses on all queries, which is what ships (knowledge/core/retrieval.py: Fusion, FIELD_WEIGHTS).

Embedding the full text takes tens of minutes on two CPU cores; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from knowledge.core import KnowledgeBase  # noqa: E402
from knowledge.core.evaluation import (  # noqa: E402
    LabelledQuery,
    distinct_papers,
    evaluate,
    load_queries,
    score_ranking,
)
from knowledge.core.retrieval import (  # noqa: E402
    DEFAULT_FUSION,
    FIELD_WEIGHTS,
    METHODS,
    Fusion,
    KeywordIndex,
    Rankings,
    fuse,
)

QUERIES = REPO / "tests" / "data" / "knowledge_queries.json"


def default_library() -> Path:
    data = Path(os.environ.get("GENESYS_DATA_DIR", REPO.parent / "shared" / "data"))
    return data / "knowledge" / "genesys-reference-library"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def progress_printer(label: str):
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int, message: str) -> None:
        now = time.perf_counter()
        if done in (0, total) or now - last[0] >= 10:
            last[0] = now
            rate = done / max(now - started, 1e-9)
            eta = (total - done) / rate if rate > 0 else float("nan")
            print(f"[{label}] {done}/{total} chunks  {rate:.1f}/s  eta {eta:.0f}s  {message[:50]}",
                  file=sys.stderr, flush=True)

    return progress


def rank_of(kb: KnowledgeBase, query: str, paper_id: str, method: str, depth: int = 50) -> int | None:
    """Rank of `paper_id` among the distinct papers of a search (None: not within `depth` chunks)."""
    papers = distinct_papers([h.paper_id for h in kb.search(query, k=depth, method=method, rerank=False)])
    return papers.index(paper_id) + 1 if paper_id in papers else None


#: The grid of --tune: few values per knob, so that two halves of ~47 queries cannot be overfitted much.
TITLE_WEIGHTS = (3.0, 5.0, 8.0)
GRID = {"dense": (0.25, 0.5, 1.0), "bm25": (1.0, 1.5, 2.0), "name": (0.0, 0.25, 0.5, 1.0),
        "prior": (0.0, 0.25, 0.5), "cited": (0.0, 0.1, 0.25)}


def _papers(rankings: Rankings, fusion: Fusion) -> list[str]:
    metas = {cid: c.meta or {} for cid, c in rankings.candidates.items()}
    return distinct_papers([str(metas[cid].get("paper_id", "")) for cid, _ in fuse(rankings, fusion)])


def _metrics(pair: tuple[float, float]) -> dict[str, float]:
    return {"recall@5": round(pair[0], 3), "mrr": round(pair[1], 3)}


def _score(cached: dict[str, Rankings], queries: list[LabelledQuery], fusion: Fusion) -> tuple[float, float]:
    """(recall@5, MRR) of `fusion` over `queries`, from rankings computed once."""
    recall = mrr = 0.0
    for query in queries:
        r, rr = score_ranking(_papers(cached[query.id], fusion), query.relevant, 5)
        recall, mrr = recall + r, mrr + rr
    return recall / len(queries), mrr / len(queries)


def tune(kb: KnowledgeBase, queries: list[LabelledQuery]) -> dict[str, object]:
    """Two-fold grid search: choose on the odd-numbered queries, report on the even ones, and back."""
    import itertools

    retriever = kb.retriever
    shipped_index = retriever.keywords
    per_title: dict[float, dict[str, Rankings]] = {}
    try:
        for title in TITLE_WEIGHTS:
            retriever.keywords = KeywordIndex(kb.store, {**FIELD_WEIGHTS, "title": title})
            per_title[title] = {q.id: retriever.rankings(q.query, 50, every=True) for q in queries}
    finally:
        retriever.keywords = shipped_index
    halves = {"odd": queries[0::2], "even": queries[1::2]}
    combos = [(t, Fusion(*values)) for t in TITLE_WEIGHTS for values in itertools.product(*GRID.values())]
    def objective(combo: tuple[float, Fusion], subset: list[LabelledQuery]) -> tuple[float, float]:
        # recall@5 + MRR: the designer reads five references, a researcher the first few; then the plainer
        # title weight (closest to 3) on ties.
        return round(sum(_score(per_title[combo[0]], subset, combo[1])), 6), -abs(combo[0] - 3.0)

    folds: dict[str, object] = {}
    held_out = []
    for train, test in (("odd", "even"), ("even", "odd")):
        title, fusion = max(combos, key=lambda c: objective(c, halves[train]))
        held_out.append(_score(per_title[title], halves[test], fusion))
        folds[f"choose_on_{train}"] = {
            "title_weight": title, "fusion": fusion.__dict__,
            "train": _metrics(_score(per_title[title], halves[train], fusion)),
            f"held_out_{test}": _metrics(held_out[-1]),
        }
    folds["cross_validated"] = _metrics((sum(r for r, _ in held_out) / 2, sum(m for _, m in held_out) / 2))
    title, fusion = max(combos, key=lambda c: objective(c, queries))
    folds["choose_on_all"] = {"title_weight": title, "fusion": fusion.__dict__,
                              "all": _metrics(_score(per_title[title], queries, fusion))}
    shipped = FIELD_WEIGHTS["title"]
    folds["shipped"] = {"title_weight": shipped, "fusion": DEFAULT_FUSION.__dict__, **{
        half: _metrics(_score(per_title[shipped], qs, DEFAULT_FUSION)) for half, qs in (*halves.items(), ("all", queries))}}
    return folds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=Path, default=default_library())
    parser.add_argument("--store", type=Path, help="store directory (default: a fresh temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary/--store directory")
    parser.add_argument("--abstracts-only", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="times each query is timed per method")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--tune", action="store_true", help="grid-search fusion and title weights (two-fold)")
    args = parser.parse_args()

    store = args.store or Path(tempfile.mkdtemp(prefix="kb-bench-"))
    results: dict[str, object] = {"library": str(args.library), "store": str(store),
                                  "full_text": not args.abstracts_only, "cpu_count": os.cpu_count()}
    try:
        started = time.perf_counter()
        kb = KnowledgeBase(store)
        from knowledge.core.embedding import embedding_dtype, load_model

        load_model()
        results["model_load_s"] = round(time.perf_counter() - started, 2)
        results["embedding_dtype"] = embedding_dtype()

        load_before = os.getloadavg()
        cpu_before = time.process_time()
        report = kb.import_library(args.library, include_fulltext=not args.abstracts_only,
                                   progress=progress_printer("import"))
        cpu_seconds = time.process_time() - cpu_before
        results["import"] = {
            "seconds": round(report.seconds, 1),
            # CPU time of this process: comparable across runs when other jobs share the cores.
            "cpu_seconds": round(cpu_seconds, 1),
            "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "documents_written": len(report.added),
            "documents_unchanged": len(report.skipped),
            "chunks_written": report.chunks_added,
            "chunks_per_s": round(report.chunks_added / report.seconds, 1) if report.seconds else None,
        }
        again = kb.import_library(args.library, include_fulltext=not args.abstracts_only)
        results["reimport"] = {"seconds": round(again.seconds, 2), "documents_written": len(again.added),
                               "documents_unchanged": len(again.skipped)}
        results["store_size"] = kb.stats()

        started = time.perf_counter()
        kb.retriever.keywords.warm()
        results["bm25_build_s"] = round(time.perf_counter() - started, 2)

        queries = load_queries(QUERIES)
        latency: dict[str, dict[str, float]] = {}
        for method in METHODS:
            kb.search("warm-up query", k=5, method=method, rerank=False)  # first-call costs are not latency
            times = []
            for _ in range(args.repeats):
                for query in queries:
                    t0 = time.perf_counter()
                    kb.search(query.query, k=5, method=method, rerank=False)
                    times.append((time.perf_counter() - t0) * 1000)
            latency[method] = {"median_ms": round(statistics.median(times), 1),
                               "p95_ms": round(percentile(times, 0.95), 1), "n": len(times)}
        results["latency_k5"] = latency
        results["quality"] = {m: evaluate(kb, queries, method=m, k=5).summary() for m in METHODS}
        results["issue_14_query"] = {
            m: rank_of(kb, "state space model selective scan", "mamba", m) for m in METHODS}
        if args.tune:
            results["tuning"] = tune(kb, queries)
    finally:
        if not args.keep and args.store is None:
            shutil.rmtree(store, ignore_errors=True)

    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
