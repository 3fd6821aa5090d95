"""`manage.py create_roles`: the viewer, researcher and admin groups with their permissions."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from evolution.services.roles import create_roles


class Command(BaseCommand):
    help = "Create or update the role groups: viewer (read), researcher (annotate, decide, promote, seed), admin."

    def handle(self, *args, **options):
        for name, group in create_roles().items():
            self.stdout.write(f"{name}: {group.permissions.count()} permissions")
