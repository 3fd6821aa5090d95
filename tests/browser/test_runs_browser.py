"""The run page and the comparison page in a real browser: the charts draw (with their bands), the
x-axis toggle works, and a comparison is reached from the runs list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytest_plugins = ["run_metrics_fixtures"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def runs_site(live_server, transactional_db, metric_runs):
    return live_server.url, metric_runs


def test_run_page_draws_the_population_curve_errors_and_designers(runs_site, page, shoot):
    base, (full, _) = runs_site
    page.goto(f"{base}/runs/{full.id}/")
    chart = page.locator("#run-chart-1")
    expect(chart).to_have_attribute("data-ready", "1")
    # Band (two traces), mean, best, each design: five traces by design count.
    assert page.locator("#run-chart-1 .scatterlayer .trace").count() == 5
    expect(page.locator(".metrics-table tr[data-metric=delta] td.num").first).to_have_text("0.4000")
    expect(page.locator("#stage-errors tr[data-stage=check]")).to_contain_text("shape-mismatch")
    expect(page.locator("#errors-chart")).to_have_attribute("data-ready", "1")
    expect(page.locator("#designers")).to_contain_text("gp")
    shoot(page, "runs-01-run-page", full_page=True)
    page.click("#rung-1 .seg button[data-x=time]")
    expect(chart).to_have_attribute("data-x", "time")
    expect(page.locator("#rung-1 .seg button[data-x=time]")).to_have_attribute("aria-pressed", "true")
    assert page.locator("#run-chart-1 .scatterlayer .trace").count() == 2
    assert page.errors == []


def test_compare_two_runs_from_the_list(runs_site, page, shoot):
    base, (full, ablated) = runs_site
    page.goto(f"{base}/runs/")
    page.fill("#compare-runs", f"{full.id},{ablated.id}")
    page.click("#compare-button")
    expect(page).to_have_url(f"{base}/runs/compare/?runs={full.id}%2C{ablated.id}")
    chart = page.locator("#compare-chart-1")
    expect(chart).to_have_attribute("data-ready", "1")
    # Per run: band (two traces), mean, best.
    assert page.locator("#compare-chart-1 .scatterlayer .trace").count() == 8
    row = page.locator(".compare-table tr[data-metric=final_mean]")
    expect(row).to_contain_text("-1.1000")
    expect(row).to_contain_text("-1.6000")
    expect(row.locator(".verdict")).to_have_count(1)
    expect(page.locator("#settings-diff tr[data-setting=fitness_feedback]")).to_contain_text("False")
    expect(page.locator("#compare-rates tr[data-metric=valid_design_rate]")).to_contain_text("3/5")
    shoot(page, "runs-02-compare", full_page=True)
    page.goto(f"{base}/runs/compare/?runs=1,x")
    expect(page.locator("#compare-error")).to_contain_text("run ids separated by commas")
    assert page.errors == []
