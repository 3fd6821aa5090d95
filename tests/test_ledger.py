"""The cost ledger's arithmetic on plain data: per design, branch and run; curves; gain per dollar."""

from __future__ import annotations

import pytest

from evolution.core.ledger import DesignCost, VerificationCost, branch_roots, cost_curve, ledger, subtree


def lineage() -> tuple[list[DesignCost], list[VerificationCost]]:
    """Seeds 1 and 2 (outside the run); run designs 10 <- 1, 11 <- 10, 12 <- (11, 20), 20 <- 2, 30 scratch."""
    designs = [
        DesignCost(1, "gpt", in_run=False, fitness=0.1),
        DesignCost(2, "mamba", in_run=False, fitness=0.3),
        DesignCost(10, "a", (1,), created_s=10, fitness=0.2, tokens={"proposer": (1000, 200), "coder": (3000, 900)},
                   dollars={"proposer": 0.5, "coder": 1.5}, design_cpu_s=4.0, check_cpu_s=1.0, designer_wall_s=60),
        DesignCost(11, "b", (10,), created_s=20, fitness=0.6, dollars={"proposer": 1.0}, unattributed_dollars=0.25),
        DesignCost(12, "c", (11, 20), created_s=30, fitness=None, design_cpu_s=2.0),
        DesignCost(20, "d", (2,), created_s=15, fitness=0.4),
        DesignCost(30, "e", (), created_s=40, fitness=None),
    ]
    verifications = [
        VerificationCost(10, "micro", "cpu", train_s=100, cpu_s=180, wall_s=110, finished_s=50),
        VerificationCost(11, "micro", "cpu", train_s=100, cpu_s=150, wall_s=105, finished_s=60),
        VerificationCost(11, "14M", "cuda", train_s=1800, cpu_s=900, wall_s=1900, finished_s=2000),
        VerificationCost(2, "14M", "cuda", train_s=3600, cpu_s=1000, wall_s=3700, finished_s=3000),  # a seed, paid by the run
        VerificationCost(20, "micro", "cpu", train_s=90, cpu_s=100, wall_s=95, finished_s=None),  # still running
    ]
    return designs, verifications


def test_run_totals_by_role_and_by_rung():
    designs, verifications = lineage()
    out = ledger(designs, verifications)
    run = out["run"]
    assert run["dollars"] == pytest.approx(0.5 + 1.5 + 1.0 + 0.25)
    assert (run["tokens_in"], run["tokens_out"]) == (4000, 1100)
    assert run["gpu_s"] == pytest.approx(1800 + 3600)  # CPU rungs' training time is not GPU time
    assert run["cpu_rung_s"] == pytest.approx(100 + 100 + 90)
    assert run["cpu_s"] == pytest.approx(4 + 1 + 2 + 180 + 150 + 900 + 1000 + 100)
    assert run["wall_s"] == pytest.approx(60 + 110 + 105 + 1900 + 3700 + 95)
    roles = {r["role"]: r for r in out["by_role"]}
    assert roles["coder"]["tokens_in"] == 3000 and roles["coder"]["dollars"] == pytest.approx(1.5)
    assert roles["proposer"]["dollars"] == pytest.approx(1.5)
    assert roles["(not by role)"]["dollars"] == pytest.approx(0.25)
    rungs = {r["rung"]: r for r in out["by_rung"]}
    assert rungs["micro"]["verifications"] == 3 and rungs["micro"]["gpu_s"] == 0
    assert rungs["micro"]["train_s"] == pytest.approx(290)
    assert rungs["14M"]["gpu_s"] == pytest.approx(5400)


def test_per_design_rows_cover_only_the_runs_designs():
    designs, verifications = lineage()
    rows = {r["id"]: r for r in ledger(designs, verifications)["designs"]}
    assert set(rows) == {10, 11, 12, 20, 30}  # seeds are the starting population, not the run's
    assert rows[11]["gpu_s"] == pytest.approx(1800) and rows[11]["dollars"] == pytest.approx(1.25)
    assert rows[30]["dollars"] == 0 and rows[30]["cpu_s"] == 0


def test_branches_are_subtrees_and_a_crossover_child_counts_in_both():
    designs, verifications = lineage()
    assert branch_roots(designs) == [10, 20, 30]
    branches = {b["root"]: b for b in ledger(designs, verifications)["branches"]}
    assert branches[10]["designs"] == 3 and branches[20]["designs"] == 2 and branches[30]["designs"] == 1
    assert branches[10]["best_fitness"] == 0.6 and branches[30]["best_fitness"] is None
    assert branches[10]["cpu_s"] == pytest.approx(5 + 180 + 150 + 900 + 2)  # 12 is in both branches
    assert branches[20]["cpu_s"] == pytest.approx(2 + 100)


def test_subtree_of_a_diamond_counts_each_design_once():
    children = {1: [2, 3], 2: [4], 3: [4], 4: [1]}  # a cycle cannot happen, but must not hang either
    assert subtree(1, children) == [1, 2, 3, 4]


def test_fitness_gained_per_dollar_and_per_gpu_hour():
    designs, verifications = lineage()
    fit = ledger(designs, verifications)["fitness"]
    assert fit["best_start"] == 0.3 and fit["best_run"] == 0.6
    assert fit["gain"] == pytest.approx(0.3)
    assert fit["per_dollar"] == pytest.approx(0.3 / 3.25)
    assert fit["per_gpu_hour"] == pytest.approx(0.3 / 1.5)


def test_nothing_spent_or_nothing_verified_gives_none_not_infinity():
    gp_only = [DesignCost(1, in_run=False, fitness=0.1), DesignCost(2, parents=(1,), fitness=0.5)]
    fit = ledger(gp_only, [VerificationCost(2, "micro", "cpu", train_s=50, cpu_s=60, finished_s=5)])["fitness"]
    assert fit["gain"] == pytest.approx(0.4) and fit["per_dollar"] is None and fit["per_gpu_hour"] is None
    unverified = ledger([DesignCost(1, in_run=False), DesignCost(2, parents=(1,), dollars={"coder": 2.0})], [])
    assert unverified["fitness"]["gain"] is None and unverified["fitness"]["per_dollar"] is None


def test_empty_run():
    out = ledger([], [])
    assert out["run"]["dollars"] == 0 and out["designs"] == [] and out["branches"] == [] and out["curve"] == []
    assert out["fitness"] == {"best_start": None, "best_run": None, "gain": None, "per_dollar": None,
                              "per_gpu_hour": None}


def test_cost_curve_is_cumulative_in_time_order_and_best_counts_verified_designs_only():
    designs, verifications = lineage()
    curve = cost_curve(designs, verifications)
    times = [p["t_s"] for p in curve]
    assert times == sorted(times)
    assert len(curve) == 5 + 4  # five run designs and four finished verifications
    for a, b in zip(curve, curve[1:], strict=False):
        assert b["dollars"] >= a["dollars"] and b["gpu_hours"] >= a["gpu_hours"] and b["cpu_hours"] >= a["cpu_hours"]
    assert curve[-1]["dollars"] == pytest.approx(3.25) and curve[-1]["gpu_hours"] == pytest.approx(1.5)
    # Design 11 (F 0.6) counts once it has been verified (t=60); before that the best is 10's 0.2.
    assert [p["best_fitness"] for p in curve if p["t_s"] in (50, 60)] == [0.2, 0.6]
    assert curve[0]["best_fitness"] is None


def test_a_huge_run_is_fast():
    import time

    designs = [DesignCost(0, in_run=False, fitness=0.0)]
    designs += [DesignCost(i, parents=(i - 1,) if i % 50 else (0,), created_s=i, fitness=i / 1e4,
                           dollars={"coder": 0.01}) for i in range(1, 20_001)]
    verifications = [VerificationCost(i, "micro", "cpu", train_s=1, cpu_s=1, finished_s=i + 0.5) for i in range(1, 20_001)]
    started = time.perf_counter()
    out = ledger(designs, verifications)
    assert time.perf_counter() - started < 5
    assert out["branch_count"] == 1 + 400 and len(out["branches"]) == 20  # roots: 1 and each multiple of 50
    assert out["run"]["dollars"] == pytest.approx(200.0)
