"""The embedded workers hold every running run's slots: two runs with one verify worker each get two
verify processes (one process for both made the second run's screens wait behind the first's)."""

import pytest

from evolution.services.loop import set_state, update_settings
from evolution.services.runs import ensure_active_run, start_run
from genesys_site.workers import embedded_worker_commands, worker_slots

pytestmark = pytest.mark.django_db


def _concurrency(command: list[str]) -> int:
    return int(command[command.index("-c") + 1])


def test_one_run_gets_its_own_slots_and_one_design_process_for_requests():
    run = ensure_active_run()
    update_settings(run, {"design_workers": 3, "verify_workers": 2})
    assert worker_slots() == (4, 2)


def test_runs_that_are_not_stopped_add_up_and_a_stopped_run_adds_nothing():
    default = ensure_active_run()
    update_settings(default, {"design_workers": 5, "verify_workers": 4})
    set_state(default, "stopped")
    start_run("a", "full", {"design_workers": 1, "verify_workers": 1})
    b = start_run("b", "no_feedback", {"design_workers": 2, "verify_workers": 1})
    set_state(b, "paused")  # a paused run keeps its running jobs: its slots stay
    assert worker_slots() == (1 + 2 + 1, 2)
    commands = embedded_worker_commands()
    design = next(c for c in commands if "design,check" in c)
    verify = next(c for c in commands if "verify" in c)
    assert (_concurrency(design), _concurrency(verify)) == (4, 2)


def test_zero_workers_everywhere_still_starts_one_process_of_each():
    run = ensure_active_run()
    update_settings(run, {"design_workers": 0, "verify_workers": 0})
    assert worker_slots() == (2, 1)
