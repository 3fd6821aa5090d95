"""A short, bounded run of the load test (benchmarks/bench_load.py) on the embedded default: the whole
studio (daphne, conductor, workers) on SQLite, five researchers for 30 s reading pages and the API
with a websocket each while the loop writes. No 5xx, no 'database is locked', and every event
written reaches every client once, in order."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_load  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)
def test_five_researchers_for_thirty_seconds_on_sqlite(genesys_data_dir):
    args = bench_load.parse_args(["--researchers", "5", "--minutes", "0.5", "--backend", "sqlite", "--no-library",
                                  "--warmup", "5", "--data-dir", str(genesys_data_dir)])
    # In a thread of its own: the benchmark calls asyncio.run(), and the browser tests' Playwright keeps
    # an event loop running in this thread for the whole session.
    with ThreadPoolExecutor(1) as pool:
        doc = pool.submit(bench_load.run, args).result()
    print(bench_load.render(doc))
    assert sum(row["requests"] for row in doc["pages"] if row["page"] != "login") >= 10, doc["pages"]
    assert not any(row["errors"].get("5xx") for row in doc["pages"]), doc["error_samples"]
    assert doc["server_log"]["database is locked"] == 0
    events = doc["events"]
    assert events["written"] > 0, "the loop wrote nothing during the test: nothing was measured"
    assert events["lost_total"] == 0 and events["out_of_order_total"] == 0 and events["duplicates_total"] == 0, \
        events["clients"]
    assert all(c["delivered"] == events["written"] for c in events["clients"])
    assert doc["writes"]["designs"] > 0
