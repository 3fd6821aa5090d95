"""The capability profile in a real browser: Plotly draws one bar series per screened design (this
design, the GPT seed) with error bars, and the page raises no script error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from evolution.models import Design, DesignParent, Verification
from evolution.services.roles import ensure_user
from evolution.services.seeding import seed_designs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "browser-pass-123"
REPORT = json.loads((Path(__file__).parents[1] / "data" / "screen_report_gpt.json").read_text())


def test_the_capability_chart_draws_the_design_beside_the_gpt_seed(live_server, transactional_db, page, shoot):
    seeds = {o.design.name: o.design for o in seed_designs(check=False)}
    child = Design.objects.create(name="child-a", slug="child-a", origin_kind="gp", mode="mutation", generation=1)
    DesignParent.objects.create(child=child, parent=seeds["mamba2"])
    for design in (child, seeds["gpt"]):
        Verification.objects.create(design=design, rung="screen", rung_index=0, status="done", report=REPORT)
    ensure_user("rita", PASSWORD, "researcher")
    page.goto(f"{live_server.url}/accounts/login/?next={child.get_absolute_url()}")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_function("() => { const el = document.getElementById('capability-chart'); "
                           "return el && el.data && el.data.length > 0; }")
    traces = page.evaluate("() => document.getElementById('capability-chart').data.map((t) => "
                           "[t.name, t.x.length, !!(t.error_y && t.error_y.visible)])")
    assert traces == [["child-a (this design)", 6, True], ["gpt (GPT seed)", 6, True]]
    expect(page.locator("#capability-table")).to_contain_text("not screened yet")  # mamba2
    page.locator("#capabilities").scroll_into_view_if_needed()
    shoot(page, "12-capability-profile")
    assert page.errors == []
