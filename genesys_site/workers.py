"""The processes the embedded default starts next to the web server: the conductor and one Celery
worker per kind of queue, sized from the settings of every run that is not stopped (several runs
share the workers; each run's conductor step only fills its own `design_workers` and
`verify_workers` slots, so the pools must hold the sum, or one run's jobs wait behind another's)."""

from __future__ import annotations

import sys


def worker_slots() -> tuple[int, int]:
    """(design processes, verify processes): the sums over runs that are not stopped (at least one
    each), plus one design process so a researcher's request never waits behind the loop's designers."""
    from evolution.models import EvolutionRun
    from evolution.services.loop import run_settings
    from evolution.services.runs import ensure_active_run

    ensure_active_run()
    runs = [r for r in EvolutionRun.objects.filter(is_active=True) if r.state != "stopped"]
    settings = [run_settings(r) for r in runs]
    design = sum(max(0, s.design_workers) for s in settings)
    verify = sum(max(0, s.verify_workers) for s in settings)
    return max(1, design) + 1, max(1, verify)


def embedded_worker_commands() -> list[list[str]]:
    from genesys_site.celery import ensure_broker_folders

    ensure_broker_folders()
    design, verify = worker_slots()
    celery = [sys.executable, "-m", "celery", "-A", "genesys_site", "worker", "--loglevel", "INFO",
              "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return [
        [sys.executable, "manage.py", "evolve"],
        # One process more than the loop's design jobs: a researcher's request (and a check) never
        # waits behind the loop's own designers (evolution.services.loop.take_requests).
        [*celery, "-Q", "design,check", "-c", str(design), "-n", "design@%h"],
        [*celery, "-Q", "verify", "-c", str(verify), "-n", "verify@%h"],
    ]
