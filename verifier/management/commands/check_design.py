"""`manage.py check_design <design id | slug | file>`: run the symbolic checker and store the report.

For a stored design the report is saved on it (and its status set to checked or invalid, as a check job would: evolution.services.checks); for a file
the report is printed. The design's code runs only inside the checker's sandboxed child process.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from evolution.models import Design
from evolution.services.checks import apply_check, store_check
from verifier.core.checker import CheckConfig, run_checks
from verifier.core.checker.files import check_path
from verifier.core.gau.tree import GAUTree


class Command(BaseCommand):
    help = "Check a stored design (by id or slug) or a design file, and store or print the report."

    def add_arguments(self, parser):
        parser.add_argument("design", help="design id, design slug, or a .json / .py / unit-folder path")
        parser.add_argument("--json", action="store_true", help="print the whole report as JSON")

    def handle(self, *args, design: str, **options):
        as_json = options["json"]
        stored = self._stored(design)
        if stored is not None:
            if not stored.tree:
                raise CommandError(f"design {stored.name} has no GAU tree to check")
            report = run_checks(GAUTree.from_dict(stored.tree), CheckConfig())
            with transaction.atomic():
                if stored.status in (Design.Status.PROPOSED, Design.Status.IMPLEMENTING, Design.Status.CHECKED,
                                     Design.Status.INVALID, Design.Status.UNCHECKED):
                    apply_check(stored, report.to_dict())  # the loop's rule, functional clones included
                else:
                    store_check(report.to_dict(), design=stored)
            label = stored.name
        else:
            if not Path(design).exists():
                raise CommandError(f"{design!r} is neither a stored design nor an existing file")
            _, report = check_path(design, CheckConfig())
            label = design
        self._print(label, report, as_json)
        if not report.passed:
            raise CommandError(f"{label} failed the checker")

    @staticmethod
    def _stored(ref: str) -> Design | None:
        if ref.isdigit():
            return Design.objects.filter(id=int(ref)).first()
        return Design.objects.filter(slug=ref).first() or Design.objects.filter(name=ref).first()

    def _print(self, label: str, report, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(report.to_dict(), indent=2, default=str))
            return
        verdict = self.style.SUCCESS("passed") if report.passed else self.style.ERROR("failed")
        self.stdout.write(f"{label}: {verdict} (sandbox: {report.sandbox})")
        for f in report.findings:
            where = f" {f.unit}" + (f":{f.line}" if f.line else "") if f.unit else ""
            self.stdout.write(f"  [{f.severity}] {f.category}{where}: {f.message}")
