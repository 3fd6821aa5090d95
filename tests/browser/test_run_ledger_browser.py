"""The run page in a real browser: the cost ledger's figures and its cumulative cost chart, and a chart
downloaded as SVG and PNG (Plotly renders them in the page: no server, no CDN); at phone width too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from playwright.sync_api import expect

from evolution.demo import build_history
from evolution.models import Design, EvolutionRun, Verification
from evolution.services.roles import ensure_user
from evolution.services.runs import start_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "browser-pass-123"


def make_run():
    build_history(12, seed=4, demo=False)
    run = start_run("ledger-browser", "base")
    first = Design.objects.order_by("created_at").first().created_at
    EvolutionRun.objects.filter(id=run.id).update(created_at=first - timedelta(hours=1))  # the run came first
    run.refresh_from_db()
    for i, d in enumerate(Design.objects.filter(is_seed=False).order_by("id")):
        Design.objects.filter(id=d.id).update(
            run=run, cpu_seconds=3.0 + i,
            designer_metrics={"tokens_by_role": {"proposer": [1200, 150], "coder": [3000, 800]},
                              "dollars_by_role": {"proposer": 0.05, "coder": 0.10}},
            cost_dollars=0.15)
    for v in Verification.objects.filter(design__run=run, finished_at__isnull=False):
        Verification.objects.filter(id=v.id).update(run=run, cpu_seconds=500.0,
                                                    started_at=v.finished_at - timedelta(minutes=20))
    return run


def test_the_ledger_and_a_chart_download(live_server, transactional_db, page, shoot, tmp_path):
    run = make_run()
    dollars = Design.objects.filter(run=run).aggregate(s=Sum("cost_dollars"))["s"]
    ensure_user("victor", PASSWORD, "viewer")
    page.goto(f"{live_server.url}/accounts/login/?next=/runs/{run.pk}/")
    page.fill("input[name=username]", "victor")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Run ledger-browser")
    expect(page.locator("main")).to_contain_text("Base (parents only from the seeds)")
    expect(page.locator("[data-figure=dollars]")).to_have_text(f"${dollars:.2f}")
    expect(page.locator("#ledger-roles")).to_contain_text("coder")
    expect(page.locator("#ledger-rungs")).to_contain_text("14M")
    page.wait_for_function("() => { const el = document.getElementById('ledger-chart'); "
                           "return el && el.data && el.data.length === 4; }")
    last = page.evaluate("() => { const t = document.getElementById('ledger-chart').data[0]; return t.y[t.y.length - 1]; }")
    assert last == pytest.approx(dollars)
    buttons = page.locator("#ledger-chart + .chart-downloads button")
    expect(buttons).to_have_text(["PNG", "SVG"])
    page.locator("#ledger").scroll_into_view_if_needed()
    shoot(page, "20-run-ledger-1440")
    shoot(page, "20-run-ledger-1440-full", full_page=True)

    with page.expect_download() as svg_download:
        buttons.filter(has_text="SVG").click()
    svg = tmp_path / "chart.svg"
    svg_download.value.save_as(svg)
    assert svg_download.value.suggested_filename.endswith(".svg")
    text = svg.read_text()
    assert text.startswith("<svg") and "GPU-hours" in text
    with page.expect_download() as png_download:
        buttons.filter(has_text="PNG").click()
    png = tmp_path / "chart.png"
    png_download.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("[data-figure=dollars]")).to_have_text(f"${dollars:.2f}")
    page.wait_for_function("() => { const el = document.getElementById('ledger-chart'); return el && el.data; }")
    # The sections fit the phone (wide tables scroll inside them). The site header is not this page's.
    overflow = page.evaluate("() => Math.max(...['ledger', 'lineage-analytics', 'run-exports', 'ledger-chart']"
                             ".map((id) => document.getElementById(id).getBoundingClientRect().right))"
                             " - window.innerWidth")
    shoot(page, "20-run-ledger-390", full_page=True)
    assert overflow <= 0, f"a section is {overflow}px wider than a phone"
    assert page.errors == []


def test_the_run_list_and_a_units_lineage(live_server, transactional_db, page, shoot):
    run = make_run()
    ensure_user("rita", PASSWORD, "researcher")
    page.goto(f"{live_server.url}/accounts/login/?next=/runs/")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#run-table")).to_contain_text("seed_parents_only=True")
    page.fill("#start-run input[name=name]", "no-lit-from-the-browser")
    page.check("#start-run input[value=no_literature]")
    page.fill("#start-run textarea[name=diff]", '{"explore_prob": 0.3}')
    shoot(page, "21-runs-1440")
    page.click("#start-run button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Run no-lit-from-the-browser")
    expect(page.locator("main")).to_contain_text("Without literature")
    expect(page.locator("main")).to_contain_text("explore_prob=0.3")
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    page.locator("#lineage-units a").first.click()
    expect(page.locator("#unit-lineage")).to_contain_text("Carried by")
    page.locator("#unit-lineage").scroll_into_view_if_needed()
    shoot(page, "22-unit-lineage-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator("#unit-lineage").scroll_into_view_if_needed()
    shoot(page, "22-unit-lineage-390")
    assert page.errors == []
