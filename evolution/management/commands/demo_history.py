"""`manage.py demo_history`: fill the database with a synthetic search history (for demos), marked
as demo: a badge on every page, and left out of the leaderboard, charts, reports and selection."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from evolution.demo import build_history


class Command(BaseCommand):
    help = ("Add the seeds and N synthetic designed descendants, some verified (made-up reports), all marked "
            "demo: shown with a badge and left out of every analysis.")

    def add_arguments(self, parser):
        parser.add_argument("-n", "--designs", type=int, default=60)
        parser.add_argument("--seed", type=int, default=0, help="random seed")
        parser.add_argument("--rung", default="14M")

    def handle(self, *args, designs, seed, rung, **options):
        stats = build_history(designs, seed=seed, rung=rung, demo=True)
        self.stdout.write(f"added {stats.designs} demo designs and {stats.verifications} made-up verifications "
                          f"at {rung} (marked demo)")
