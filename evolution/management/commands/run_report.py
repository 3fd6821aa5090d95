"""`manage.py run_report [RUN]`: a run's numbers as JSON (designs, verifications, fitness, failures)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from evolution.models import EvolutionRun
from evolution.selectors.run_report import run_report


class Command(BaseCommand):
    help = "Print what an evolution run made, checked and verified, fitness over time and failures."

    def add_arguments(self, parser):
        parser.add_argument("run", nargs="?", help="run name (default: the active run)")
        parser.add_argument("--bucket-minutes", type=int, default=5)

    def handle(self, *args, run: str | None, bucket_minutes: int, **options):
        qs = EvolutionRun.objects.filter(name=run) if run else EvolutionRun.objects.filter(is_active=True)
        obj = qs.first()
        if obj is None:
            raise CommandError(f"no run {run!r}" if run else "no active run")
        self.stdout.write(json.dumps(run_report(obj, bucket_minutes), indent=2, default=str))
