"""In a real browser: the leaderboard takes a finished verification in without a reload; a running
verification's eval phase shows lm-eval's progress per task and a clock that runs; a line number
opens the note form under its line, scrolled into view and focused; an unreadable .py upload shows
its text with the error's line and is edited and checked again. Screenshots at 1440 and 390 px go
to artifacts/screenshots/."""

# ruff: noqa: F811 - the live-server fixtures are imported from test_live_browser and used as arguments
from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from evolution.demo import fake_report
from evolution.models import Job, Upload, Verification
from evolution.services import jobs
from evolution.services.events import record_event
from evolution.services.verifications import record_report, start_verification
from tests.browser.test_live_browser import (  # noqa: F401 - the `studio` fixture is shared
    a_checked_design,
    log_in,
    studio,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

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
    assert page.locator("#board").get_attribute("data-live-updates") == "1"
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
