"""Two small runs with fitness values, failures and checks written as rows, numbers checked by hand
(`pytest_plugins = ["run_metrics_fixtures"]`): the run metrics' selector, pages and browser tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evolution.models import CheckRun, Design, EvolutionRun, Job, Verification
from evolution.services.seeding import seed_designs

RUNG = "test"


def _verify(design: Design, fitness: float | None, finished, run=None, seed: int = 42, stderr: float | None = 0.01,
            failure: str = "") -> Verification:
    status = Verification.Status.FAILED if failure else Verification.Status.DONE
    report = {"failure": {"category": failure, "message": "x"}} if failure else {}
    return Verification.objects.create(design=design, rung=RUNG, seed=seed, status=status, run=run,
                                       fitness=fitness, fitness_stderr=stderr if fitness is not None else None,
                                       fitness_metric="likelihood" if fitness is not None else "", report=report,
                                       finished_at=finished)


def make_run(name: str, values: list[float | None], settings: dict | None = None, start=None) -> EvolutionRun:
    """A run whose k-th design has fitness values[k] at the test rung (None: checked, not verified)."""
    start = start or timezone.now() - timedelta(minutes=30)
    run = EvolutionRun.objects.create(name=name, budgets={RUNG: 100}, settings=settings or {}, is_active=False)
    EvolutionRun.objects.filter(id=run.id).update(created_at=start)
    run.refresh_from_db()
    tree = Design.objects.filter(is_seed=True).order_by("id").first().tree
    for k, value in enumerate(values):
        design = Design.objects.create(name=f"{name}-d{k}", slug=f"{name}-d{k}", origin_kind="gp", tree=tree,
                                       status=Design.Status.VERIFIED if value is not None else Design.Status.CHECKED,
                                       run=run, generation=1)
        Design.objects.filter(id=design.id).update(created_at=start + timedelta(minutes=k + 1))
        Job.objects.create(run=run, kind=Job.Kind.DESIGN, status=Job.Status.DONE, design=design,
                           finished_at=start + timedelta(minutes=k + 1))
        if value is not None:
            _verify(design, value, start + timedelta(minutes=k + 2), run=run)
    return run


@pytest.fixture
def metric_runs(db):
    """Seeds gpt (-2.0) and mamba2 (-1.0) verified before the runs; run "full" makes designs of fitness
    -1.0 and (two seeds) -0.5/-0.3, an invalid one (shape-mismatch), one without a tree, a checked
    one whose verification failed (too-slow) and a crashed design job; run "ablated" makes -1.8, -1.6."""
    seeds = [o.design for o in seed_designs(["gpt", "mamba2"], check=False)]
    early = timezone.now() - timedelta(hours=2)
    _verify(seeds[0], -2.0, early)
    _verify(seeds[1], -1.0, early)
    full = make_run("full", [-1.0, -0.4, None], settings={"designer": "gp", "fitness_feedback": True})
    d1 = Design.objects.get(name="full-d1")
    Verification.objects.filter(design=d1).update(fitness=-0.5)
    _verify(d1, -0.3, full.created_at + timedelta(minutes=9), run=full, seed=43)
    checked = Design.objects.get(name="full-d2")
    _verify(checked, None, full.created_at + timedelta(minutes=12), run=full, failure="too-slow")
    start = full.created_at
    invalid = Design.objects.create(name="full-bad", slug="full-bad", origin_kind="gp", tree=checked.tree,
                                    status=Design.Status.INVALID, run=full, generation=1)
    Design.objects.filter(id=invalid.id).update(created_at=start + timedelta(minutes=4))
    CheckRun.objects.create(design=invalid, passed=False, report={"findings": [
        {"severity": "warning", "category": "slow"}, {"severity": "error", "category": "shape-mismatch"}]})
    Job.objects.create(run=full, kind=Job.Kind.DESIGN, status=Job.Status.DONE, design=invalid,
                       finished_at=start + timedelta(minutes=4))
    empty = Design.objects.create(name="full-empty", slug="full-empty", origin_kind="gp", tree=None,
                                  status=Design.Status.INVALID, run=full, generation=1)
    Job.objects.create(run=full, kind=Job.Kind.DESIGN, status=Job.Status.DONE, design=empty,
                       finished_at=start + timedelta(minutes=5))
    Job.objects.create(run=full, kind=Job.Kind.DESIGN, status=Job.Status.FAILED, failure_category="crash",
                       finished_at=start + timedelta(minutes=6))
    ablated = make_run("ablated", [-1.8, -1.6], settings={"designer": "gp", "fitness_feedback": False})
    return full, ablated
