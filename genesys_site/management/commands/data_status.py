"""`manage.py data_status`: say whether verification has the data it needs (exit 1 if not)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Report whether GENESYS_DATA_DIR holds a tokenizer, a corpus and evaluation tasks."

    def handle(self, *args, **options):
        from verifier.core.train import data_status

        data_dir = Path(settings.GENESYS_DATA_DIR) if settings.GENESYS_DATA_DIR else None
        ok, message = data_status(data_dir)
        if not ok:
            raise CommandError(f"verification has no data: {message}")
        self.stdout.write(self.style.SUCCESS(f"verification data: {message}"))
