"""`manage.py evolve`: the conductor. Every few seconds it reaps jobs whose worker died and tops up
the design and verify queues of each active run to its worker counts. State lives in the database,
so stopping and restarting the conductor (or any worker) loses nothing."""

from __future__ import annotations

import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from evolution.models import EvolutionRun
from evolution.services.loop import dispatch
from evolution.services.runs import ensure_active_run
from genesys_site.celery import ensure_broker_folders

log = logging.getLogger("evolution.conductor")


class Command(BaseCommand):
    help = "Run the evolution conductor (dispatches design and verify jobs to the Celery workers)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between steps")
        parser.add_argument("--once", action="store_true", help="one step, then exit")

    def handle(self, *args, interval: float, once: bool, **options):
        ensure_broker_folders()
        ensure_active_run()
        while True:
            try:
                self.step()
            except Exception:  # a database or broker outage: log it and try again at the next step
                if once:
                    raise
                log.exception("conductor step failed; retrying in %.0f s", interval)
                close_old_connections()
            if once:
                return
            time.sleep(interval)

    def step(self) -> None:
        for run in EvolutionRun.objects.filter(is_active=True):
            counts = dispatch(run)
            if any(counts.values()):
                log.info("run %s: queued %d design, %d verify jobs; reaped %d", run.name,
                         counts["design"], counts["verify"], counts["reaped"])
            if counts.get("requests"):
                log.info("run %s: %d researcher request(s) given a design job", run.name, counts["requests"])
