"""`manage.py ensure_demo_user`: a researcher account for demos (demo / demo-genesys by default)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from evolution.services.roles import ensure_user
from genesys_site.permissions import ROLES


class Command(BaseCommand):
    help = "Create the demo account if it is missing (an existing one keeps its password) and give it a role."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-genesys")
        parser.add_argument("--role", default="researcher", choices=ROLES)

    def handle(self, *args, username, password, role, **options):
        if not password:
            raise CommandError("a password is required")
        user, created = ensure_user(username, password, role)
        self.stdout.write(f"{'created' if created else 'kept'} {user.username} ({role})")
