"""Benchmark of the knowledge engine on the reference library.

Measures: ingestion time of the whole library (abstracts + full text) into a fresh store, the second
import (must be a no-op), keyword-index build time, query latency (median, p95) per method, and retrieval
quality (recall@5, MRR) per method on the labelled set tests/data/knowledge_queries.json.

    .venv/bin/python benchmarks/bench_knowledge.py                    # whole library, fresh temp store
    .venv/bin/python benchmarks/bench_knowledge.py --store var/kb-bench --keep   # keep it for reuse
    .venv/bin/python benchmarks/bench_knowledge.py --store var/kb-bench          # reuse: import is a no-op
    .venv/bin/python benchmarks/bench_knowledge.py --abstracts-only   # ~300 chunks, a minute

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
from knowledge.core.evaluation import evaluate, load_queries  # noqa: E402
from knowledge.core.retrieval import METHODS  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=Path, default=default_library())
    parser.add_argument("--store", type=Path, help="store directory (default: a fresh temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary/--store directory")
    parser.add_argument("--abstracts-only", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="times each query is timed per method")
    parser.add_argument("--json", type=Path, help="also write the results here")
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
