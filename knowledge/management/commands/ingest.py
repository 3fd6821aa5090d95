"""python manage.py ingest PATH — add a PDF, Markdown/text or Python file (or a folder of them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from knowledge import services
from knowledge.core.documents import UnsupportedFile

from ._progress import progress_writer


class Command(BaseCommand):
    help = "Ingest a file or every supported file under a folder; unchanged files are skipped."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--paper-id", help="attach to this paper id (e.g. a library acronym)")
        parser.add_argument("--title")
        parser.add_argument("--authors", help="separated by semicolons")
        parser.add_argument("--year", type=int)
        parser.add_argument("--venue")
        parser.add_argument("--arxiv-id")
        parser.add_argument("--s2id", help="Semantic Scholar paper id")
        parser.add_argument("--url")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.exists():
            raise CommandError(f"{path}: no such file or directory")
        meta = {k: options[k] for k in ("paper_id", "title", "authors", "year", "venue", "arxiv_id", "s2id", "url")
                if options.get(k) not in (None, "")}
        if meta and path.is_dir():
            raise CommandError("--title, --authors, ... describe one paper: give a file, not a folder")
        try:
            report = services.ingest_path(path, meta, "file", progress_writer(self.stdout))
        except (UnsupportedFile, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(
            f"{len(report.added)} document(s) ingested ({report.chunks_added} passages), "
            f"{len(report.skipped)} unchanged, in {report.seconds:.1f} s: {', '.join(report.paper_ids)}"
        ))
