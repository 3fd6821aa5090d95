"""`manage.py check_design` checks a stored design or a file and keeps the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evolution.models import CheckRun, Design
from evolution.services.seeding import seed_designs

BAD = Path(__file__).parent / "bad_designs"


@pytest.mark.django_db
def test_check_design_stores_a_passing_report_on_the_design(capsys):
    seed_designs(["gpt"], check=False)
    call_command("check_design", "gpt")
    run = CheckRun.objects.get(design__name="gpt")
    assert run.passed and run.report["passed"] is True
    assert Design.objects.get(name="gpt").status == "checked"
    assert "gpt: " in capsys.readouterr().out


@pytest.mark.django_db
def test_check_design_on_a_broken_file_fails_with_its_findings(capsys):
    bad = next(p for p in sorted(BAD.glob("*.py")) if "reversed_cumsum" in p.name)
    with pytest.raises(CommandError, match="failed the checker"):
        call_command("check_design", str(bad))
    assert "non-causal" in capsys.readouterr().out


@pytest.mark.django_db
def test_check_design_names_what_it_cannot_find():
    with pytest.raises(CommandError, match="neither a stored design nor an existing file"):
        call_command("check_design", "no-such-design")
