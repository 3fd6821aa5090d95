"""`manage.py demo_history` makes up designs and results for a demo: everything it makes carries the
origin "demo" and a badge on every page that shows it, and no analysis counts it (leaderboard, charts,
run summary, selection)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from evolution.models import Design, DesignUnit, Verification
from evolution.selectors.dashboard import fitness_series, run_summary
from evolution.selectors.leaderboard import leaderboard
from evolution.selectors.loop import design_states

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.django_db

BADGE = 'class="badge demo"'


@pytest.fixture
def demo(seeds) -> list[Design]:
    out = io.StringIO()
    call_command("demo_history", "-n", "10", "--seed", "2", stdout=out)
    assert "10 demo designs" in out.getvalue() and "marked demo" in out.getvalue()
    return list(Design.objects.filter(origin_kind="demo"))


def test_what_demo_history_makes_is_marked_demo(demo, seeds):
    assert len(demo) == 10 and all(d.origin["kind"] == "demo" and d.is_demo for d in demo)
    assert Verification.objects.filter(design__origin_kind="demo", status="done").exists()  # made-up results
    assert not Verification.objects.filter(design__in=seeds).exists()  # the real seeds get none
    assert set(Design.objects.real()) == set(seeds)


def test_every_page_that_shows_a_demo_design_shows_the_badge(client, demo, seeds):
    design = next(d for d in demo if d.status == "verified")
    unit = DesignUnit.objects.filter(design=design).select_related("unit").first().unit
    pages = {
        "design": reverse("evolution:design", args=[design.slug]),
        "diff": reverse("evolution:diff", args=[design.slug]),
        "tree results": reverse("evolution:tree-results") + f"?q={design.name}",
        "unit": reverse("evolution:unit", args=[unit.content_hash]),
    }
    for what, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200 and BADGE in response.content.decode(), what
    real = client.get(reverse("evolution:design", args=[seeds[0].slug])).content.decode()
    assert BADGE not in real
    assert client.get("/api/designs/", {"origin": "demo"}).json()["count"] == 10  # still readable as data


def test_analytics_leave_demo_designs_out(client, demo):
    names = {d.name for d in demo}
    board = leaderboard("14M")
    assert not any(row.design.name in names for row in board["rows"])
    page = client.get(reverse("evolution:leaderboard"), {"rung": "14M"}).content.decode()
    assert not any(name in page for name in names)
    assert fitness_series(None)["points"] == 0
    summary = run_summary(None)
    assert summary["best"] is None and summary["designs"] == Design.objects.real().count()
    assert not {s.id for s in design_states()} & {d.id for d in demo}  # never a parent of a real design
