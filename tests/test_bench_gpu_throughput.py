"""benchmarks/bench_gpu_throughput.py on a CPU: the one-shot features the GPU check (#4) relies on.

Row order (must-have rows first), the JSON rewritten after every row and well-formed, the budget
that skips rows, the per-row time limit, and the summary of saved results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "bench_gpu_throughput.py"


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_gpu_throughput")


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    # One thread: the 2-core CI box runs other tests beside this one, and oversubscribed threads crawl.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_priority_order_puts_the_must_have_rows_first(bench):
    seeds = ["gpt", "mamba2", "retnet", "rwkv6", "ttt"]
    jobs = bench.plan_jobs(["14M", "31M", "125M"], seeds, full_ce=False)
    labels = [j.label for j in jobs]
    assert labels[:4] == ["14M plain GPT", "14M gpt", "125M plain GPT", "125M gpt"]
    assert labels[4:8] == ["14M mamba2", "14M retnet", "14M rwkv6", "14M ttt"]
    assert labels[8:10] == ["31M plain GPT", "31M gpt"]
    assert labels[-1] == "125M ttt" and len(labels) == 18 == len(set(labels))
    by_rung = [j.label for j in bench.plan_jobs(["14M", "125M"], ["gpt"], full_ce=True, order="rung")]
    assert by_rung == [
        "14M plain GPT",
        "14M gpt",
        "14M gpt (full CE)",
        "125M plain GPT",
        "125M gpt",
        "125M gpt (full CE)",
    ]


def test_micro_batch_caps_parse(bench):
    assert bench.parse_micro("14M=128,125M=32") == {"14m": 128, "125m": 32}
    assert bench.parse_micro("64") == {"*": 64}
    assert bench.parse_micro(None) == {}


def test_cpu_smoke_writes_well_formed_rows(tmp_path):
    out = tmp_path / "bench.json"
    args = [
        "--device",
        "cpu",
        "--seeds",
        "gpt",
        "--rungs",
        "14M",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--context",
        "16",
        "--batch-seqs",
        "1",
        "--budget-s",
        "240",
        "--json",
        str(out),
    ]
    done = run_cli(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    assert doc["complete"] is True and doc["skipped"] == []
    assert doc["order"] == ["14M plain GPT", "14M gpt"]
    rows = doc["rows"]["14M"]
    assert [r["model"] for r in rows] == ["plain GPT", "gpt"]
    for row in rows:
        assert "failure" not in row, row
        assert row["tokens_per_s"] > 0 and row["flops_per_token"] > 0 and row["mfu"] is None  # no peak on CPU
        assert len(row["step_times_s"]) == 2 and row["step_s"] > 0
        for key in ("setup_s", "compile_s", "warmup_s", "measure_s", "row_s"):
            assert row[key] is not None and row[key] >= 0, key
        assert row["micro_batch"] == 1 and row["grad_accum"] == 1 and row["rung"] == "14M"
    assert set(doc["verdicts"]) == {"14M"} and doc["verdicts"]["14M"]["target"] == 1.5
    assert "GPT seed / plain GPT at 14M" in done.stdout
    summary = run_cli("--summarize", str(out))
    assert summary.returncode == 0 and "benchmark complete" in summary.stdout


def test_budget_and_row_time_limit_still_leave_json(tmp_path):
    out = tmp_path / "bench.json"
    # A per-row limit too short for any row: both rows stop with a time-out, the JSON says so.
    done = run_cli(
        "--device",
        "cpu",
        "--seeds",
        "gpt",
        "--rungs",
        "14M",
        "--steps",
        "1",
        "--context",
        "16",
        "--row-timeout-s",
        "0.05",
        "--json",
        str(out),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    rows = doc["rows"]["14M"]
    assert [r["failure"]["category"] for r in rows] == ["timeout", "timeout"]
    assert all(r["row_s"] < 30 for r in rows)
    # No time left at all: every row is skipped, and the JSON lists them.
    done = run_cli(
        "--device",
        "cpu",
        "--seeds",
        "gpt,mamba2",
        "--rungs",
        "14M",
        "--budget-s",
        "0.001",
        "--min-row-s",
        "1",
        "--json",
        str(out),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    assert doc["complete"] is False and doc["rows"] == {"14M": []}
    assert [s["label"] for s in doc["skipped"]] == ["14M plain GPT", "14M gpt", "14M mamba2"]
    assert "INCOMPLETE" in done.stdout


def test_e2e_summary_of_a_run_cut_during_evaluation(bench, tmp_path):
    # What a SIGTERM during lm-eval leaves: no report, only the progress events seen so far.
    state = {
        "phases": {"data": 0.0, "size": 30.0, "train": 35.0, "validate": 250.0, "eval": 256.0},
        "tokenised": True,
        "loop_start": 95.0,
        "last_step": {"step": 1336, "total_steps": 1336, "tokens_per_s": 4.0e6, "mfu": 0.3,
                      "elapsed_s": 155.0, "eta_s": 0.0, "t": 250.0},
    }  # fmt: skip
    import bench_e2e  # beside the benchmark (the fixture put its folder on the path)

    doc = bench_e2e.e2e_summary("14M", None, state, 400.0, tmp_path)
    assert doc["status"] == "interrupted" and doc["cut_in_phase"] == "eval" and doc["report"] is None
    assert doc["phases_s"] == {"data": 30.0, "size": 5.0, "train": 215.0, "validate": 6.0, "eval": 144.0}
    assert doc["train"]["pre_loop_s"] == 60.0 and doc["train"]["train_projected_s"] == 155.0
    bench_e2e.write_json(tmp_path / "e2e.json", doc)
    assert json.loads((tmp_path / "e2e.json").read_text())["tokenised"] is True
