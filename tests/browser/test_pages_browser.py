"""The pages on a phone (390×844) and a desktop (1440×900) in a real Chromium: no horizontal scroll,
the folding menu, the designs list with its filters and pages, the tree's names and legend, and a
one-point chart's time axis. Screenshots of each screen go to artifacts/screenshots/pages-*.png."""

from __future__ import annotations

import random
import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from evolution.core.ladder import rung_index
from evolution.demo import build_history, fake_report
from evolution.models import Design, Verification
from evolution.services.roles import ensure_user
from evolution.services.seeding import seed_designs
from evolution.services.verifications import record_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def studio(live_server, transactional_db):
    build_history(16, seed=7, demo=False)
    return {"url": live_server.url, "user": ensure_user("rita", "browser-pass-123", "researcher")[0]}


@pytest.fixture
def tab(browser):
    """tab(viewport) -> a page of a fresh context of that size; page errors are collected in .errors."""
    contexts = []

    def make(viewport):
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


def log_in(page, base: str, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])


def settle(page) -> None:
    page.wait_for_load_state("networkidle")
    if page.locator("#lineage").count():
        expect(page.locator("#lineage")).to_have_attribute("data-ready", "1")


def test_phone_pages_have_no_horizontal_scroll(studio, tab, shoot):
    design = Design.objects.filter(status="verified", generation__gt=0).order_by("-generation").first()
    pages = {"dashboard": "/dashboard/", "design": design.get_absolute_url(), "tree": "/",
             "leaderboard": "/leaderboard/", "designs": "/designs/", "units": "/units/", "diff": design.get_absolute_url() + "diff/",
             "seed": "/seed/", "designer": "/designer/settings/", "library": "/knowledge/"}
    for viewport, size in ((PHONE, "390"), (DESKTOP, "1440")):
        page = tab(viewport)
        log_in(page, studio["url"], studio["user"])
        for name, path in pages.items():
            page.goto(studio["url"] + path)
            settle(page)
            widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{path} at {size} px: scrollWidth {widths[0]} > {widths[1]}"
            if name in ("dashboard", "design", "tree", "leaderboard", "designs"):
                shoot(page, f"pages-{name}-{size}", full_page=name != "design")
        assert page.errors == []


def test_phone_menu_opens_and_log_out_is_reachable(studio, tab, shoot):
    page = tab(PHONE)
    log_in(page, studio["url"], studio["user"])
    page.goto(studio["url"] + "/dashboard/")
    button = page.get_by_role("button", name="Menu")
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#site-menu")).to_be_hidden()
    # The closed bar is one line: brand and button.
    assert page.locator(".topbar").bounding_box()["height"] < 70

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    nav = page.get_by_role("navigation", name="Main")
    for link in ("Evolution tree", "Designs", "Leaderboard", "Dashboard", "Library", "Units", "Designer"):
        expect(nav.get_by_role("link", name=link, exact=True)).to_be_visible()
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_visible()
    box = log_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    shoot(page, "pages-menu-open-390")

    page.keyboard.press("Escape")  # closes, and gives focus back to the button
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#site-menu")).to_be_hidden()
    assert page.evaluate("() => document.activeElement.classList.contains('nav-toggle')")

    button.click()
    nav.get_by_role("link", name="Designs", exact=True).click()
    page.wait_for_url("**/designs/")
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    assert page.errors == []


def test_desktop_shows_the_menu_without_a_button(studio, tab):
    page = tab(DESKTOP)
    log_in(page, studio["url"], studio["user"])
    page.goto(studio["url"] + "/leaderboard/")
    expect(page.locator(".nav-toggle")).to_be_hidden()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert page.locator(".topbar").bounding_box()["height"] < 70  # one line


def rows(page) -> list[str]:
    return page.locator("#design-table tbody tr td:first-child a").all_inner_texts()


def test_designs_list_filters_and_pages(studio, tab, shoot):
    total = Design.objects.real().count()
    verified = Design.objects.real().filter(status="verified").count()
    assert total > 20 and 0 < verified < total
    for viewport, size in ((DESKTOP, "1440"), (PHONE, "390")):
        page = tab(viewport)
        log_in(page, studio["url"], studio["user"])
        page.goto(studio["url"] + "/designs/?per_page=10&sort=oldest")
        expect(page.locator("#design-results h2")).to_have_text(f"{total} designs")
        first = rows(page)
        assert first == list(Design.objects.real().order_by("id").values_list("name", flat=True)[:10])
        page.get_by_role("link", name="next →").click()
        page.wait_for_url(re.compile(r".*page=2"))
        second = rows(page)
        assert len(second) == 10 and not set(first) & set(second)
        expect(page.locator(".pager .here")).to_have_text("2")

        page.select_option("select[name=status]", "verified")  # htmx: the list alone is re-read
        expect(page.locator("#design-results h2")).to_have_text(f"{verified} designs match")
        assert "status=verified" in page.url
        statuses = page.locator("#design-table tbody tr td:nth-child(2) .badge.status-verified")
        expect(statuses).to_have_count(min(10, verified))
        assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        shoot(page, f"pages-designs-filtered-{size}", full_page=True)

        page.goto(studio["url"] + "/designs/?per_page=10&page=40")
        expect(page.get_by_role("alert")).to_contain_text("There is no page 40")
        page.get_by_role("link", name="Go to the last page").click()
        expect(page.locator("#design-table tbody tr")).not_to_have_count(0)
        assert page.errors == []


# ---- the tree -------------------------------------------------------------------------------------------

LABEL_BOXES = """() => {
  const el = document.getElementById('lineage');
  const full = el._fullLayout, sz = full._size;
  const host = el.getBoundingClientRect();
  const labels = [...el.querySelectorAll('.scatterlayer .trace')].flatMap((t) => [...t.querySelectorAll('.textpoint text')])
    .map((t) => { const r = t.getBoundingClientRect();
      return {text: t.textContent, box: [r.left - host.left, r.top - host.top, r.right - host.left, r.bottom - host.top]}; });
  const [x0, x1] = full.xaxis.range, [y0, y1] = full.yaxis.range;
  const d = el.data[1], hl = JSON.parse(document.getElementById('match-data').textContent);
  const ids = JSON.parse(document.getElementById('graph-data').textContent).nodes.id;
  const markers = d.x.map((x, i) => { const cx = sz.l + (x - x0) / (x1 - x0) * sz.w;
    const cy = sz.t + (1 - (d.y[i] - y0) / (y1 - y0)) * sz.h; const r = d.marker.size[i] / 2;
    return {box: [cx - r, cy - r, cx + r, cy + r], lit: !hl || hl.includes(ids[i])}; });
  return {labels, markers, plot: [sz.l, sz.t, sz.l + sz.w, sz.t + sz.h]};
}"""


def overlap(a, b, slack=0.5) -> bool:
    return a[0] < b[2] - slack and a[2] > b[0] + slack and a[1] < b[3] - slack and a[3] > b[1] + slack


def assert_labels_readable(page, expected: set[str] | None = None) -> list[str]:
    found = page.evaluate(LABEL_BOXES)
    labels, plot = found["labels"], found["plot"]
    texts = [label["text"] for label in labels]
    if expected is not None:
        assert set(texts) == expected
    for i, label in enumerate(labels):
        box = label["box"]
        assert plot[0] - 1 <= box[0] and box[2] <= plot[2] + 1 and plot[1] - 1 <= box[1] and box[3] <= plot[3] + 1, label
        for marker in found["markers"]:
            assert not (marker["lit"] and overlap(box, marker["box"])), f"{label['text']} is under a marker"
        for other in labels[i + 1:]:
            assert not overlap(box, other["box"]), f"{label['text']} overlaps {other['text']}"
    return texts


def test_tree_names_are_whole_and_apart(studio, tab, shoot):
    seeds = set(Design.objects.filter(is_seed=True).values_list("name", flat=True))
    for viewport, size in ((DESKTOP, "1440"), (PHONE, "390")):
        page = tab(viewport)
        log_in(page, studio["url"], studio["user"])
        page.goto(studio["url"] + "/")
        settle(page)
        assert_labels_readable(page, expected=seeds)  # every seed named, above its marker

        page.goto(studio["url"] + "/?status=verified")
        settle(page)
        expect(page.locator("#result-list")).to_be_visible()
        shown = assert_labels_readable(page)
        lineage = page.locator("#lineage")
        hidden = int(lineage.get_attribute("data-labels-hidden"))
        assert len(shown) == int(lineage.get_attribute("data-labels"))
        assert len(shown) + hidden == Design.objects.filter(status="verified").count()
        assert len(shown) >= 5
        if hidden:
            expect(page.locator("#legend .label-note")).to_contain_text(f"{hidden} name")

        # The results table fits its panel: the Fitness column is whole.
        panel = page.locator("#results").bounding_box()
        head = page.locator("#result-list th.fitness").bounding_box()
        assert head["x"] + head["width"] <= panel["x"] + panel["width"]
        assert page.evaluate("() => { const t = document.querySelector('#result-list table'); "
                             "return t.scrollWidth <= t.clientWidth + 1; }")

        # Zooming in places the names again for the new scale.
        page.evaluate("() => Plotly.relayout('lineage', {'yaxis.range': [3.5, -0.5]})")
        page.wait_for_timeout(300)
        assert_labels_readable(page)
        page.locator("#lineage").scroll_into_view_if_needed()
        shoot(page, f"pages-tree-highlighted-{size}")
        assert page.errors == []


@pytest.fixture
def one_verified(live_server, transactional_db):
    """The seeds, one of them verified at 14M: the smallest population a chart and a legend can show."""
    seed_designs(check=False)
    gpt = Design.objects.get(name="gpt")
    verification = Verification.objects.create(design=gpt, rung="14M", rung_index=rung_index("14M"))
    record_report(verification, fake_report("14M", 0.05, random.Random(3), design_hash=gpt.tree_hash))
    gpt.refresh_from_db()
    return {"url": live_server.url, "user": ensure_user("rita", "browser-pass-123", "researcher")[0], "design": gpt}


def test_one_verified_design_reads_sensibly(one_verified, tab, shoot):
    page = tab(DESKTOP)
    log_in(page, one_verified["url"], one_verified["user"])
    page.goto(one_verified["url"] + "/")
    settle(page)
    legend = page.locator("#legend")
    expect(legend).to_contain_text(f"fitness {one_verified['design'].fitness:.3f} (the one verified design)")
    expect(legend.locator(".ramp")).to_have_count(0)  # no scale from a value to itself
    shoot(page, "pages-tree-one-verified-1440")

    page.goto(one_verified["url"] + "/dashboard/")
    chart = page.locator("#fitness-chart")
    expect(chart).to_have_attribute("data-ready", "1")
    page.click("#fitness-card .seg button[data-x=time]")
    expect(chart).to_have_attribute("data-x", "time")
    ticks = page.locator("#fitness-chart .xtick text").all_text_contents()
    assert ticks and all(re.fullmatch(r"\d\d:\d\d(:\d\d)?.*", t) for t in ticks), ticks
    assert not any(re.search(r"\d\d:\d\d:\d\d\.\d", t) for t in ticks), ticks  # no fractions of a second
    y_ticks = page.locator("#fitness-chart .ytick text").all_text_contents()
    assert len(set(y_ticks)) == len(y_ticks) >= 2, y_ticks  # distinct values, not one repeated
    shoot(page, "pages-dashboard-one-point-1440")
    assert page.errors == []
