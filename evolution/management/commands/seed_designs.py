"""`manage.py seed_designs`: load every available seed as a generation-0 design (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from evolution.services.checks import checker_available
from evolution.services.seeding import seed_designs


class Command(BaseCommand):
    help = "Load the seed designs (gpt, mamba2, retnet, rwkv6, ttt: whichever exist) as generation 0."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="seed names (default: all available)")
        parser.add_argument("--no-check", action="store_true", help="do not run the checker on the seeds")

    def handle(self, *args, names, no_check, **options):
        check = not no_check
        if check and not checker_available():
            self.stdout.write("checker not installed: seeds are stored unchecked; the conductor checks them")
        for outcome in seed_designs(names or None, check=check):
            verb = "created" if outcome.created else "exists "
            note = f" ({outcome.note})" if outcome.note else ""
            self.stdout.write(f"{verb} {outcome.name}: design #{outcome.design.id}, {outcome.design.status}{note}")
