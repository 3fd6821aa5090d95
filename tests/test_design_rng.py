"""A run's `random_seed` makes its n-th design job draw the same random choices as the n-th design job
of any other run with that seed (an ablation compares settings, not luck); without one, fresh draws."""

from __future__ import annotations

import pytest

from evolution.core.loop_settings import LoopSettings, SettingsError
from evolution.models import Job
from evolution.services.runs import start_run
from evolution.services.work import design_rng

pytestmark = pytest.mark.django_db


def _draws(run, jobs: int) -> list[list[float]]:
    made = [Job.objects.create(run=run, kind=Job.Kind.DESIGN) for _ in range(jobs)]
    Job.objects.create(run=run, kind=Job.Kind.VERIFY)  # other kinds do not shift the count
    return [[design_rng(job, run).random() for _ in range(3)] for job in made]


def test_two_runs_with_one_seed_draw_alike_job_by_job():
    full = start_run("full-7", "full", {"random_seed": 7})
    ablated = start_run("no-feedback-7", "no_feedback", {"random_seed": 7})
    a, b = _draws(full, 3), _draws(ablated, 3)
    assert a == b
    assert len({tuple(x) for x in a}) == 3  # the jobs of one run differ from each other
    other = start_run("full-8", "full", {"random_seed": 8})
    assert _draws(other, 1)[0] != a[0]


def test_without_a_seed_each_job_draws_afresh():
    run = start_run("unseeded", "full")
    job = Job.objects.create(run=run, kind=Job.Kind.DESIGN)
    assert design_rng(job, run).random() != design_rng(job, run).random()


@pytest.mark.parametrize("bad", ["7", 1.5, True])
def test_a_seed_must_be_an_integer(bad):
    with pytest.raises(SettingsError, match="random_seed"):
        LoopSettings(random_seed=bad).validated()
