"""The processes the embedded default starts next to the web server: the conductor and one Celery
worker per kind of queue, sized from the active run's settings."""

from __future__ import annotations

import sys


def embedded_worker_commands() -> list[list[str]]:
    from evolution.services.loop import run_settings
    from evolution.services.runs import ensure_active_run
    from genesys_site.celery import ensure_broker_folders

    ensure_broker_folders()
    settings = run_settings(ensure_active_run())
    celery = [sys.executable, "-m", "celery", "-A", "genesys_site", "worker", "--loglevel", "INFO",
              "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return [
        [sys.executable, "manage.py", "evolve"],
        # One process more than the loop's design jobs: a researcher's request (and a check) never
        # waits behind the loop's own designers (evolution.services.loop.take_requests).
        [*celery, "-Q", "design,check", "-c", str(max(1, settings.design_workers) + 1), "-n", "design@%h"],
        [*celery, "-Q", "verify", "-c", str(max(1, settings.verify_workers)), "-n", "verify@%h"],
    ]
