"""Live updates in a real browser over a real websocket (all in this one module: Twisted's reactor,
which daphne runs on, cannot start twice in one process): results recorded in this process, through the
real services, show up on open pages without a reload (the dashboard's fitness chart, ladder and
feed; the tree; a design page's training progress and results), and the run controls work.

Django's live_server speaks WSGI only, so these tests serve the ASGI application (the one daphne
serves in production, websockets included) with daphne in a thread of this process. Like Django's
live server with an in-memory SQLite test database, every server thread shares the test's database
connection; the stream runs on its embedded-default path (the consumer tails the events table).
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.db import connections
from django.test import Client
from playwright.sync_api import expect

from designer.core.result import Cost, DesignerResult
from evolution.demo import build_history, fake_report, mutate
from evolution.models import Design, EvolutionRun, Job, Upload, Verification
from evolution.services import jobs
from evolution.services.designs import create_design_from_result
from evolution.services.events import record_event
from evolution.services.roles import ensure_user
from evolution.services.runs import ensure_active_run
from evolution.services.verifications import record_report, start_verification
from verifier.core.gau.tree import GAUTree

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class Served:
    url: str
    server: object  # daphne.server.Server

    def busy(self) -> int:
        """Open connections plus unfinished tasks on daphne's loop (a view, a consumer, its table poll),
        counted in the reactor's thread, where they live."""
        from twisted.internet import reactor

        loop = reactor._asyncioEventloop
        seen: list[int] = []
        counted = threading.Event()

        def count() -> None:
            seen.append(len(self.server.connections) + sum(not t.done() for t in asyncio.all_tasks(loop)))
            counted.set()

        reactor.callFromThread(count)
        counted.wait(5)
        return seen[0] if seen else -1

    def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until daphne is idle: a request or a stream still reading the shared connection would
        race the test database's flush (or hit it after the connection is no longer shared)."""
        deadline = time.monotonic() + timeout_s
        while (busy := self.busy()) != 0:
            if time.monotonic() > deadline:
                pytest.fail(f"daphne still busy {timeout_s:.0f} s after the browser closed ({busy} connections and tasks)")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def asgi_server():
    """daphne serving genesys_site.asgi (plus static files) on a free port, in a daemon thread."""
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server  # installs Twisted's asyncio reactor on a loop of its own
    from twisted.internet import reactor

    from genesys_site.asgi import application

    server = Server(application=ASGIStaticFilesHandler(application), signal_handlers=False,
                    endpoints=build_endpoint_description_strings(host="127.0.0.1", port=0))
    thread = threading.Thread(target=server.run, name="daphne", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not getattr(server, "listening_addresses", None):
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("daphne did not start listening")
        time.sleep(0.05)
    yield Served(url=f"http://127.0.0.1:{server.listening_addresses[0][1]}", server=server)
    reactor.callFromThread(reactor.stop)
    thread.join(10)


@pytest.fixture
def shared_connection(transactional_db):
    """Every thread (daphne's request and consumer threads, this one) uses this test's connection,
    as Django's live server does for an in-memory SQLite database."""
    handler = connections._connections
    conn = connections["default"]
    conn.inc_thread_sharing()

    class Shared:
        default = conn

    connections._connections = Shared()
    yield conn
    connections._connections = handler
    conn.dec_thread_sharing()


@pytest.fixture
def studio(asgi_server, shared_connection):
    """Torn down after `page` (tests take studio first): the browser is closed, then daphne drains
    before the connection stops being shared and the database is flushed."""
    build_history(12, seed=5, demo=False)
    run = ensure_active_run()
    run.budgets = {"micro": 16, "14M": 40}
    run.save()
    user = ensure_user("rita", "browser-pass-123", "researcher")[0]
    yield {"url": asgi_server.url, "run": run, "user": user}
    asgi_server.settle()


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


# ---- the leaderboard, eval progress, pin-to-line, uploads (one module: one daphne per process) ----

PHONE = {"width": 390, "height": 844}


def both_widths(page, shoot, name: str, full_page: bool = False, show: str = "") -> None:
    """The screen at 1440 px, then at 390 px (a phone), with `show` (a selector) in view, kept as
    artefacts (artifacts/screenshots/)."""
    for width, size in (("1440", {"width": 1440, "height": 900}), ("390", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        if show:
            page.locator(show).first.evaluate("(el) => el.scrollIntoView({block: 'center'})")
        shoot(page, f"{name}-{width}", full_page=full_page)
    page.set_viewport_size({"width": 1440, "height": 900})


def test_the_leaderboard_takes_a_finished_verification_in_without_a_reload(studio, page, shoot):
    log_in(page, studio)
    page.goto(studio["url"] + "/leaderboard/?rung=14M")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    rows = page.locator("#board tr[data-design]")
    before = rows.count()
    design = a_checked_design()
    expect(page.locator(f'#board tr[data-design="{design.id}"]')).to_have_count(0)

    verification = Verification.objects.create(design=design, rung="14M", rung_index=2, run=studio["run"])
    record_report(verification, fake_report("14M", 0.6, random.Random(1), design_hash=design.tree_hash))  # a new best
    assert Verification.objects.get(id=verification.id).status == "done"

    row = page.locator(f'#board tr[data-design="{design.id}"]')
    expect(row).to_have_count(1, timeout=20_000)
    expect(rows).to_have_count(before + 1)
    expect(row).to_have_attribute("data-change", "arrived")
    best = Verification.objects.filter(rung="14M", status="done", design__is_seed=False).order_by("-fitness").first()
    assert best.design_id == design.id
    expect(row.locator("td").first).to_have_text("1")  # ranked first, above the designs already there
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # no reload
    # re-read by the live stream (once per burst of events; a slow box may see the burst as two)
    assert int(page.locator("#board").get_attribute("data-live-updates") or 0) >= 1
    both_widths(page, shoot, "leaderboard-live")
    assert not page.errors, page.errors


def test_the_eval_phase_shows_requests_scored_per_task_and_a_running_clock(studio, page, shoot):
    design = a_checked_design()
    log_in(page, studio)
    verification = Verification.objects.create(design=design, rung="14M", rung_index=2, run=studio["run"])
    job = jobs.claim(Job.objects.create(run=studio["run"], kind="verify", design=design, verification=verification).id)
    start_verification(verification)
    page.goto(studio["url"] + design.get_absolute_url())
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    box = page.locator(f'.live-progress[data-verification="{verification.id}"]')
    expect(box).to_be_visible()
    elapsed = box.locator("[data-field=elapsed]")
    first = elapsed.inner_text()
    page.wait_for_timeout(2200)
    assert elapsed.inner_text() != first  # the clock runs between events
    payload = {"verification": verification.id, "rung": "14M", "kind": "eval", "phase": "eval", "done": 120,
               "total": 480, "tasks": {"piqa_local": [120, 200], "arc_easy_local": [0, 280]},
               "message": "scoring piqa_local 120/200 · arc_easy_local 0/280",
               "started_at": verification.started_at.isoformat()}
    jobs.heartbeat(job, payload)
    record_event("verification.progress", payload, design=design)
    expect(box.locator("[data-field=phase-name]")).to_have_text("eval")
    expect(box.locator("[data-field=eval]")).to_have_text("120 / 480")
    expect(box.locator('[data-task="piqa_local"]')).to_have_text("piqa_local 120/200")
    expect(box.locator(".bar > span")).to_have_attribute("style", re.compile(r"width: 25(\.0)?%"))
    table_time = page.locator("#verification-table [data-since]")
    expect(table_time).to_contain_text("so far")
    box.scroll_into_view_if_needed()
    both_widths(page, shoot, "design-eval-progress", show=".live-progress")
    assert not page.errors, page.errors


def test_a_line_number_opens_the_note_form_under_the_line_in_view_and_focused(studio, page, shoot):
    design = a_checked_design()
    log_in(page, studio)
    page.goto(studio["url"] + design.get_absolute_url())
    unit = design.tree["root"]
    link = page.locator(f'a[data-unit="{unit}"][data-line="3"]')
    link.scroll_into_view_if_needed()
    link.click()
    row = page.locator("tr.pin-row")
    expect(row).to_have_count(1)
    form = row.locator("#annotate-form")
    expect(form).to_be_in_viewport()
    assert page.evaluate("() => document.activeElement.name") == "text"
    assert page.evaluate("() => !!document.activeElement.closest('tr.pin-row')")
    assert page.evaluate("() => document.querySelector('tr.pin-row').previousElementSibling.id") == f"u-{unit}-L3"
    expect(form.locator("select[name=unit_name]")).to_have_value(unit)
    expect(form.locator("input[name=line]")).to_have_value("3")
    both_widths(page, shoot, "design-pin-to-line", show="tr.pin-row")

    page.keyboard.type("The scale here looks off by sqrt(d).")
    form.locator("button[type=submit]").click()
    expect(page.locator("#annotations .timeline")).to_contain_text("The scale here looks off by sqrt(d).")
    expect(page.locator("#annotations")).to_contain_text(f"{unit}:3")
    expect(page.locator("tr.pin-row")).to_have_count(0)
    expect(page.locator("#annotations #annotate-form")).to_have_count(1)  # back at home for the next note

    other = page.locator(f'a[data-unit="{unit}"][data-line="5"]')
    other.scroll_into_view_if_needed()
    other.click()
    page.keyboard.press("Escape")
    expect(page.locator("tr.pin-row")).to_have_count(0)
    expect(page.locator("#annotations #annotate-form")).to_have_count(1)
    assert not page.errors, page.errors


def test_an_unreadable_py_upload_is_edited_and_checked_again(studio, page, shoot):
    log_in(page, studio)
    good = Path(__file__).resolve().parents[1] / "good_designs" / "prenorm_index_zero.py"
    lines = good.read_text().splitlines()
    lines.insert(6, "def oops(:")
    broken = "\n".join(lines) + "\n"
    page.goto(studio["url"] + "/seed/")
    page.set_input_files("#seed-form input[type=file]", files=[
        {"name": "mine.py", "mimeType": "text/x-python", "buffer": broken.encode()}])
    page.click("#seed-form button[type=submit]")
    expect(page.locator("#upload-status")).to_have_text("could not be read")
    expect(page.locator('#upload-source tr[data-error-line="7"]')).to_contain_text("def oops(:")
    expect(page.locator("#upload-source .error-note")).to_contain_text("line 7")
    page.locator("#upload-source").scroll_into_view_if_needed()
    both_widths(page, shoot, "upload-unreadable-error", show="#upload-source tr.error-line")
    area = page.locator("#recheck-form textarea[name=text]")
    assert area.input_value() == broken  # everything as sent
    page.click("[data-goto-line]")
    assert page.evaluate("() => document.activeElement.name") == "text"
    selected = page.evaluate("() => { const a = document.activeElement; return a.value.slice(a.selectionStart, a.selectionEnd); }")
    assert selected == "def oops(:"
    both_widths(page, shoot, "upload-unreadable-edit", show="#recheck-form textarea")

    page.keyboard.press("Delete")  # the selected bad line goes
    page.click("#recheck-form button[type=submit]")
    expect(page.locator("#upload-status")).to_have_text("checking")
    second = Upload.objects.order_by("-id").first()
    first = Upload.objects.order_by("id").first()
    assert second.source == broken.replace("def oops(:", "") and second.filename == "mine.py"
    assert first.status == "unreadable" and first.source == broken  # nothing lost
    assert not page.errors, page.errors


def test_the_feed_says_why_an_upload_was_rejected_and_the_settings_say_why_they_are_read_only(studio, page, shoot):
    reason = ("the checker found 1 error: the output at position t depends on tokens after t, so the design "
              "can see the future (CausalAttention, line 31)")
    record_event("upload.checked", {"upload": 99, "name": "leaky-attention", "status": "rejected", "reason": reason})
    Verification.objects.create(design=a_checked_design(), rung="14M", rung_index=2, run=studio["run"])  # queued
    log_in(page, studio)
    page.goto(studio["url"] + "/dashboard/")
    line = page.locator("#dash-feed li", has_text="leaky-attention").first
    expect(line).to_contain_text("rejected by the checker: " + reason)  # whole, no word cut
    expect(page.locator("#dash-verify-queued")).to_have_text("+ 1 queued")
    assert line.evaluate("(li) => li.scrollWidth <= li.clientWidth + 1")  # it wraps instead of overflowing
    line.scroll_into_view_if_needed()
    both_widths(page, shoot, "dashboard-feed", show="#dash-feed li[data-event]:has-text('leaky-attention')")

    page.goto(studio["url"] + "/designer/settings/")
    reason_box = page.locator("#readonly-reason")
    expect(reason_box).to_contain_text("needs the admin role")
    first_field = page.locator("#designer-settings select, #designer-settings input:not([type=hidden])").first
    assert reason_box.bounding_box()["y"] < first_field.bounding_box()["y"]
    expect(first_field).to_be_disabled()
    reason_box.scroll_into_view_if_needed()
    both_widths(page, shoot, "designer-settings-readonly", show="#readonly-reason")
    assert not page.errors, page.errors
