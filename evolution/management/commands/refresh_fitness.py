"""`manage.py refresh_fitness`: recompute every design's F from the verifications stored now.

Needed after a migration that renames rung results (0012: screens measured under an earlier
definition of the screen); scripts/start.sh runs it on every start, where it changes nothing once F
is current."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from evolution.services.verifications import refresh_all_fitness


class Command(BaseCommand):
    help = "Recompute every design's fitness, its std and confidence from its verifications."

    def handle(self, *args, **options):
        changed = refresh_all_fitness()
        self.stdout.write(f"fitness recomputed: {changed} design(s) changed")
