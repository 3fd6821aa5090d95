"""What the ledger is fed: CPU time measured where the work happens, the sandboxed checker's own CPU
time (which bubblewrap hides from the parent) read from its report, bounded."""

from __future__ import annotations

import os

import pytest

from designer.core.checking import CheckerUnavailable
from evolution.core.cpu_time import checks_cpu, cpu_meter, reported_child_cpu, verification_cpu


def test_the_meter_counts_this_process_and_a_waited_child():
    import subprocess
    import sys

    with cpu_meter() as spent:
        subprocess.run([sys.executable, "-c", "x = 0\nfor i in range(3_000_000): x += i"], check=True)
    assert spent["cpu_seconds"] > 0.05


@pytest.mark.parametrize("figures, expected", [
    ({"child_cpu_seconds": 3.5, "sandbox_seconds": 10.0}, 3.5),
    ({"child_cpu_seconds": 1e9, "sandbox_seconds": 2.0}, 2.0 * (os.cpu_count() or 1)),  # a child that lies
    ({"child_cpu_seconds": -4, "sandbox_seconds": 2.0}, 0.0),
    ({"child_cpu_seconds": True, "sandbox_seconds": 2.0}, 0.0),
    ({"child_cpu_seconds": "3", "sandbox_seconds": 2.0}, 0.0),
    ({"child_cpu_seconds": 3.0}, 0.0),  # no wall time: nothing to bound it by
    ({}, 0.0),
])
def test_the_childs_claim_is_read_and_bounded(figures, expected):
    assert reported_child_cpu({"figures": figures}) == pytest.approx(expected)


def test_reports_that_are_not_reports_count_nothing():
    assert reported_child_cpu(None) == 0 and reported_child_cpu({"figures": [1]}) == 0 and reported_child_cpu("x") == 0
    trace = [{"figures": {"child_cpu_seconds": 1.0, "sandbox_seconds": 5}}, None,
             {"figures": {"child_cpu_seconds": 2.0, "sandbox_seconds": 5}}]
    assert checks_cpu(trace) == pytest.approx(3.0) and checks_cpu([]) == 0


@pytest.mark.django_db
def test_a_check_records_its_cpu_time_with_the_sandboxed_child():
    from evolution.models import CheckRun
    from evolution.services.checks import run_checker, store_check
    from verifier.core.seeds import load_seed

    try:
        report = run_checker(load_seed("gpt"))
    except CheckerUnavailable as exc:
        pytest.skip(f"the checker cannot run here: {exc}")
    child = reported_child_cpu(report)
    assert child > 0.2  # the runtime stages ran a small model in the child
    assert report["cpu_seconds"] >= child
    stored = store_check(report)
    assert CheckRun.objects.get(id=stored.id).cpu_seconds == pytest.approx(report["cpu_seconds"])


CORES = os.cpu_count() or 1


@pytest.mark.parametrize(("spent", "report", "wall_s", "expected"), [
    (1.7, {"cpu_seconds": 70.0}, 80.0, 71.7),  # behind bubblewrap: the parent's own plus the run's claim
    (72.0, {"cpu_seconds": 70.0}, 80.0, 72.0),  # rlimits only: the run's time already reached `spent`
    (1.0, {"cpu_seconds": 1e9}, 2.0, 1.0 + 2.0 * CORES),  # a run that lies is bounded by wall x cores
    (1.0, {"cpu_seconds": -3}, 5.0, 1.0),
    (1.0, {"cpu_seconds": True}, 5.0, 1.0),
    (1.0, {"cpu_seconds": "9"}, 5.0, 1.0),
    (1.0, {"cpu_seconds": None}, 5.0, 1.0),  # a report from before the field
    (1.0, None, 5.0, 1.0),  # no report (killed, sandbox unavailable)
    (1.0, {"cpu_seconds": 3.0}, 0.0, 1.0),  # no wall time: nothing to bound it by
])
def test_a_verification_adds_the_sandboxed_runs_own_cpu_time_once(spent, report, wall_s, expected):
    assert verification_cpu(spent, report, wall_s) == pytest.approx(expected)
