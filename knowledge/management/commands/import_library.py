"""python manage.py import_library PATH — import the Genesys reference library (papers/, fulltext/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from knowledge import services
from knowledge.core.library import LibraryLayoutError

from ._progress import progress_writer


class Command(BaseCommand):
    help = "Import the reference library (metadata, abstracts, full text, citation links); re-running is a no-op."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", type=Path, help="e.g. ../shared/data/knowledge/genesys-reference-library")
        parser.add_argument("--papers", help="comma-separated acronyms to import (default: all)")
        parser.add_argument("--abstracts-only", action="store_true",
                            help="skip the full text (a minute instead of tens of minutes on two cores)")

    def handle(self, *args: Any, **options: Any) -> None:
        papers = [p.strip() for p in options["papers"].split(",") if p.strip()] if options.get("papers") else None
        try:
            report = services.import_library(options["path"], papers, not options["abstracts_only"],
                                             progress_writer(self.stdout))
        except LibraryLayoutError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(
            f"{len(report.paper_ids)} papers: {len(report.added)} document(s) written ({report.chunks_added} passages), "
            f"{len(report.skipped)} unchanged, in {report.seconds:.1f} s"
        ))
