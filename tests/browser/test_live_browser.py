"""Live updates in a real browser over a real websocket: results recorded in this process, through the
real services, show up on open pages without a reload (the dashboard's fitness chart, ladder and
feed; the tree; a design page's training progress and results), and the run controls work.

Django's live_server speaks WSGI only, so these tests serve the ASGI application (the one daphne
serves in production, websockets included) with daphne in a thread of this process. Like Django's
live server with an in-memory SQLite test database, every server thread shares the test's database
connection; the stream runs on its embedded-default path (the consumer tails the events table).
"""

from __future__ import annotations

import random
import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from designer.core.result import Cost, DesignerResult
from evolution.demo import build_history, fake_report, mutate
from evolution.models import Design, EvolutionRun, Job, Verification
from evolution.services import jobs
from evolution.services.designs import create_design_from_result
from evolution.services.events import record_event
from evolution.services.roles import ensure_user
from evolution.services.runs import ensure_active_run
from evolution.services.verifications import record_report, start_verification
from verifier.core.gau.tree import GAUTree

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def studio(asgi_server, shared_connection):
    build_history(12, seed=5, demo=False)
    run = ensure_active_run()
    run.budgets = {"micro": 16, "14M": 40}
    run.save()
    user = ensure_user("rita", "browser-pass-123", "researcher")[0]
    return {"url": asgi_server, "run": run, "user": user}


def log_in(page, studio) -> None:
    client = Client()
    client.force_login(studio["user"])
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": studio["url"]}])


def a_checked_design() -> Design:
    return Design.objects.filter(status="checked", generation__gt=0).order_by("id").first()


def test_the_dashboard_chart_updates_when_a_verification_finishes(studio, page, shoot):
    log_in(page, studio)
    page.goto(studio["url"] + "/dashboard/")
    chart = page.locator("#fitness-chart")
    expect(chart).to_have_attribute("data-ready", "1")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    before = int(chart.get_attribute("data-points"))
    verified_14m = int(page.locator('#dash-ladder tr[data-rung="14M"] td').nth(2).inner_text())
    best_before = page.evaluate("() => Math.max(...document.getElementById('fitness-chart').data"
                                ".filter((t) => t.name === '14M best').flatMap((t) => t.y))")

    design = a_checked_design()
    verification = Verification.objects.create(design=design, rung="14M", rung_index=2, run=studio["run"])
    record_report(verification, fake_report("14M", 0.6, random.Random(1), design_hash=design.tree_hash))  # a new best
    fitness = Verification.objects.get(id=verification.id).fitness

    expect(chart).to_have_attribute("data-points", str(before + 1), timeout=20_000)
    best_after = page.evaluate("() => Math.max(...document.getElementById('fitness-chart').data"
                               ".filter((t) => t.name === '14M best').flatMap((t) => t.y))")
    assert best_after == pytest.approx(fitness) and best_after > best_before
    expect(page.locator('#dash-ladder tr[data-rung="14M"] td').nth(2)).to_have_text(str(verified_14m + 1))
    expect(page.locator("#dash-feed")).to_contain_text(design.name)
    expect(page.locator("#dash-feed")).to_contain_text("verified at 14M")
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # no reload
    shoot(page, "live-dashboard", full_page=True)

    page.click("#fitness-card .seg button[data-x=time]")
    expect(chart).to_have_attribute("data-x", "time")
    shoot(page, "live-dashboard-over-time")
    assert not page.errors, page.errors


def test_run_controls_pause_and_explain_a_refused_setting(studio, page, shoot):
    log_in(page, studio)
    page.goto(studio["url"] + "/dashboard/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.click("#run-controls button.state-paused")
    expect(page.locator("#controls-ok")).to_have_text("the run is now paused")
    expect(page.locator("#run-state")).to_have_text("paused")  # the summary heard the event
    assert EvolutionRun.objects.get(id=studio["run"].id).state == "paused"

    page.fill("#settings-form input[name=stale_after_s]", "5")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#controls-error")).to_contain_text("stale_after_s must be at least 10 seconds")
    expect(page.locator("#settings-form input[name=stale_after_s]")).to_have_value("5")
    expect(page.locator("#settings-form label.invalid")).to_contain_text("Stale after")
    page.locator("#run-controls").scroll_into_view_if_needed()
    page.evaluate("() => window.scrollTo(0, document.getElementById('run-controls').getBoundingClientRect().top"
                  " + window.scrollY - 60)")
    shoot(page, "live-run-controls-error")

    page.fill("#settings-form input[name=stale_after_s]", "300")
    page.fill("#settings-form input[name=verify_workers]", "2")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#controls-ok")).to_contain_text("settings saved: stale_after_s, verify_workers")
    expect(page.locator("#dash-summary")).to_contain_text("2 verify workers")
    assert not page.errors, page.errors


def test_a_design_page_follows_its_verification(studio, page, shoot):
    design = a_checked_design()
    log_in(page, studio)
    page.goto(studio["url"] + design.get_absolute_url())
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#fitness")).to_have_text("–")

    verification = Verification.objects.create(design=design, rung="14M", rung_index=2, run=studio["run"])
    job = jobs.claim(Job.objects.create(run=studio["run"], kind="verify", design=design, verification=verification).id)
    start_verification(verification)
    box = page.locator(f'.live-progress[data-verification="{verification.id}"]')
    expect(box).to_be_visible(timeout=20_000)  # the section reloaded when the verification started
    for step in (100, 250):  # as a verify worker reports progress (services.work._Follower)
        payload = {"verification": verification.id, "rung": "14M", "kind": "step", "step": step, "total_steps": 500,
                   "loss": 6.0 - step / 100, "tokens_per_s": 2.4e5, "mfu": 0.18, "eta_s": 2 * (500 - step)}
        jobs.heartbeat(job, payload)
        record_event("verification.progress", payload, design=design)
    expect(box.locator("[data-field=step]")).to_have_text("250 / 500")
    expect(box.locator("[data-field=loss]")).to_have_text("3.5000")
    expect(box.locator("[data-field=tokens_per_s]")).to_have_text("240k/s")
    expect(box.locator("[data-field=eta]")).to_have_text("8 min")
    expect(box.locator(".bar > span")).to_have_attribute("style", re.compile(r"width: 50(\.0)?%"))
    page.locator("#verification").scroll_into_view_if_needed()
    shoot(page, "live-design-progress")

    record_report(verification, fake_report("14M", 0.05, random.Random(2), design_hash=design.tree_hash))
    jobs.finish(job)
    fitness = Design.objects.get(id=design.id).fitness  # F: the mean of its rung z-scores
    expect(page.locator("#verification .badge.done")).to_have_text("done", timeout=20_000)
    expect(page.locator("#fitness")).to_have_text(f"{fitness:.3f}")
    expect(box).to_have_count(0)
    expect(page.locator("#loss-chart .main-svg").first).to_be_visible()  # design.js drew the new curves
    page.locator("#verification").scroll_into_view_if_needed()
    shoot(page, "live-design-verified")
    assert not page.errors, page.errors


def test_new_designs_appear_in_the_tree(studio, page, shoot):
    log_in(page, studio)
    page.goto(studio["url"] + "/")
    lineage = page.locator("#lineage")
    expect(lineage).to_have_attribute("data-ready", "1")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    count = Design.objects.count()

    parent = Design.objects.get(name="gpt")
    tree = mutate(GAUTree.from_dict(parent.tree), random.Random(4), "LiveMixer-1")
    tree.name = "LiveMixer-1"
    create_design_from_result(DesignerResult(
        mode="mutation", parents=["gpt"], status="implemented", tree=tree, name="LiveMixer-1",
        origin={"kind": "gp"}, check_report={"passed": True, "findings": []}, cost=Cost(),
    ), [parent])

    expect(lineage).to_have_attribute("data-count", str(count + 1), timeout=20_000)
    expect(page.locator("#tree-count")).to_have_text(f"{count + 1} designs")
    names = page.evaluate("() => JSON.parse(document.getElementById('graph-data').textContent).nodes.name")
    assert "LiveMixer-1" in names
    points = page.evaluate("() => document.getElementById('lineage').data[1].x.length")
    assert points == count + 1  # tree.js redrew the nodes from the new graph
    shoot(page, "live-tree")
    # A click still opens the right design after the redraw.
    index = names.index("LiveMixer-1")
    page.evaluate("(i) => document.getElementById('lineage').emit('plotly_click', {points: [{curveNumber: 1, "
                  "pointIndex: i}]})", index)
    page.wait_for_url("**/designs/livemixer-1/")
    assert not page.errors, page.errors


def test_the_tree_results_panel_follows_new_matches(studio, page, shoot):
    """With a filter on, a new design that matches it is highlighted in the plot and listed in the panel:
    the count in the panel and the highlighted markers stay the same number."""
    log_in(page, studio)
    page.goto(studio["url"] + "/?status=checked")
    lineage = page.locator("#lineage")
    expect(lineage).to_have_attribute("data-ready", "1")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    before = Design.objects.filter(status="checked").count()
    expect(page.locator("#result-list h2")).to_have_text(f"{before} match{'es' if before != 1 else ''}")
    expect(lineage).to_have_attribute("data-highlighted", str(before))

    parent = Design.objects.get(name="gpt")
    tree = mutate(GAUTree.from_dict(parent.tree), random.Random(5), "LivePanel-1")
    tree.name = "LivePanel-1"
    create_design_from_result(DesignerResult(
        mode="mutation", parents=["gpt"], status="implemented", tree=tree, name="LivePanel-1",
        origin={"kind": "gp"}, check_report={"passed": True, "findings": []}, cost=Cost(),
    ), [parent])
    assert Design.objects.get(name="LivePanel-1").status == "checked"

    expect(lineage).to_have_attribute("data-highlighted", str(before + 1), timeout=20_000)
    expect(page.locator("#result-list h2")).to_have_text(f"{before + 1} matches", timeout=20_000)
    expect(page.locator("#result-list")).to_contain_text("LivePanel-1")
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # no reload
    shoot(page, "live-tree-results")
    assert not page.errors, page.errors
