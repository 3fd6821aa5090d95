"""Seeds stored without the checker (`seed_designs --no-check`) are "unchecked", never "checked": the
conductor queues their check first, and the loop designs from and verifies only seeds that passed."""

from __future__ import annotations

import random

import pytest
from django.core.management import call_command

from evolution.models import CheckRun, Design, EvolutionRun, Job
from evolution.selectors.loop import design_states
from evolution.services.loop import dispatch
from evolution.services.work import run_check_job

pytestmark = pytest.mark.django_db


def test_no_check_stores_the_seeds_unchecked_with_the_reason(capsys):
    call_command("seed_designs", "gpt", "ttt", "--no-check")
    seeds = Design.objects.filter(is_seed=True)
    assert sorted(seeds.values_list("status", flat=True)) == ["unchecked", "unchecked"]
    assert all("without the checker" in d.failure for d in seeds)
    assert not CheckRun.objects.exists()
    assert capsys.readouterr().out.count("unchecked") == 2


def test_the_loop_checks_unchecked_seeds_before_it_uses_them():
    call_command("seed_designs", "gpt", "--no-check")
    run = EvolutionRun.objects.create(name="unchecked", budgets={"micro": 4},
                                      settings={"design_workers": 1, "verify_workers": 1})
    gpt = Design.objects.get(name="gpt")
    assert [s.implemented for s in design_states(run)] == [False]
    # First step: only the seed's check; nothing to design from or verify yet.
    assert dispatch(run, random.Random(0)) == {"reaped": 0, "design": 0, "verify": 0, "requests": 0, "check": 1}
    check = Job.objects.get(run=run, kind="check")
    assert check.design == gpt and check.params == {}
    # The check is queued once, not again at every step while it waits or runs.
    assert dispatch(run, random.Random(0))["check"] == 0
    run_check_job(check.id)  # the real checker, as a worker runs it
    gpt.refresh_from_db()
    assert (gpt.status, gpt.failure) == ("checked", "")
    assert CheckRun.objects.get(design=gpt).passed
    # Checked, the seed is a parent and is verified.
    counts = dispatch(run, random.Random(0))
    assert (counts["design"], counts["verify"], counts["check"]) == (1, 1, 0)
    assert Job.objects.get(run=run, kind="verify").design == gpt


def test_a_seed_that_fails_its_check_is_invalid_and_never_used():
    call_command("seed_designs", "gpt", "--no-check")
    gpt = Design.objects.get(name="gpt")
    tree = dict(gpt.tree)
    units = {name: dict(unit) for name, unit in tree["units"].items()}
    first = next(iter(units))
    units[first]["code"] = units[first]["code"] + "\nraise RuntimeError('broken on import')\n"
    Design.objects.filter(id=gpt.id).update(tree={**tree, "units": units})
    run = EvolutionRun.objects.create(name="broken-seed", budgets={"micro": 4},
                                      settings={"design_workers": 1, "verify_workers": 1})
    dispatch(run, random.Random(0))
    run_check_job(Job.objects.get(run=run, kind="check").id)
    gpt.refresh_from_db()
    assert gpt.status == "invalid" and gpt.failure
    assert dispatch(run, random.Random(0)) == {"reaped": 0, "design": 0, "verify": 0, "requests": 0, "check": 0}
