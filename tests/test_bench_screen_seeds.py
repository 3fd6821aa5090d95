"""benchmarks/bench_screen_seeds.py: a second screen seed read against the first and the rungs above,
on real reports from the evidence folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "bench_screen_seeds.py"
EVIDENCE = REPO / "benchmarks" / "evidence" / "rank_agreement"
DESIGNS = ("gpt", "mamba2", "retnet", "rwkv6", "ttt", "loop-30")


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_screen_seeds")


@pytest.fixture
def evidence(tmp_path):
    """Six designs' real reports of the first screen (`screen-65k`), micro and tiny; the "second
    seed" is the first one again, except that loop-30 has none."""
    for design in DESIGNS:
        for rung in ("screen-65k", "micro", "tiny"):
            target = tmp_path / rung / design / "report.json"
            target.parent.mkdir(parents=True)
            shutil.copyfile(EVIDENCE / rung / design / "report.json", target)
        if design != "loop-30":
            target = tmp_path / "screen-65k-seed-7" / design / "report.json"
            target.parent.mkdir(parents=True)
            shutil.copyfile(EVIDENCE / "screen-65k" / design / "report.json", target)
    return tmp_path


def test_an_identical_second_seed_retests_at_one_and_a_missing_one_is_left_out(bench, evidence):
    table = bench.distinct(bench.table_of(evidence, 7, "screen-65k"))
    assert set(table) == set(DESIGNS)
    assert table["loop-30"]["screen@7"] is None and table["loop-30"]["screen@mean"] is None
    assert table["gpt"]["screen@mean"] == pytest.approx(table["gpt"]["screen"])
    assert table["gpt"]["tiny"] < 0 and table["gpt"]["micro"] < table["gpt"]["tiny"]  # minus loss: tiny learns more
    lines = bench.report_lines(table, 7)
    retest = [line for line in lines if "test-retest" in line]
    assert len(retest) == 3
    assert all("= +1.000" in line and "n = 5" in line for line in retest)
    # the first seed is compared on all six designs, the second and the mean only where it exists
    by_pair = {line.split(" = ")[0]: line for line in lines if line.startswith("rho(")}
    assert by_pair["rho(screen, tiny)"].endswith("n = 6")
    assert by_pair["rho(screen@7, tiny)"].endswith("n = 5") and by_pair["rho(screen@mean, micro)"].endswith("n = 5")
    assert any(line.startswith("tiny's top 2 passed by screen@mean") for line in lines)  # the funnel, per column


def test_near_clones_count_as_the_earlier_design_seeds_first_then_loop_designs_by_number(bench):
    names = ["loop-19", "ttt", "loop-3", "gpt", "other"]
    assert sorted(names, key=bench.rank.design_order) == ["gpt", "ttt", "loop-3", "loop-19", "other"]


def test_the_second_seed_must_differ_from_the_first(bench, evidence):
    with pytest.raises(SystemExit):
        bench.main(["--seed", "42", "--evidence", str(evidence), "--no-run"])
