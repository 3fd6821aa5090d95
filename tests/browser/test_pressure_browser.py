"""Back-pressure and the seed-and-parent rule in a real browser: the dashboard says why designing is
paused and its fixes work; a researcher's request runs while the loop is under back-pressure, its
state shown where it was made; a vetoed design offers no seed button and a forged POST is refused.
Screenshots at 1440 and 390 px go to artifacts/screenshots/pressure/ (or $GENESYS_SHOTS_DIR)."""

from __future__ import annotations

import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from designer.core.replay_server import ReplayServer
from evolution.models import Design, DesignRequest, EvolutionRun, Job, Verification
from evolution.services import decisions
from evolution.services.loop import dispatch
from evolution.services.roles import ensure_user
from evolution.services.work import run_design_job
from tests.checked_seeds import checked_seeds
from tests.replay_designer import KEY_ENV, point_designer_at

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "browser-pass-123"
SHOTS = Path(os.environ.get("GENESYS_SHOTS_DIR", Path(__file__).resolve().parents[2] / "artifacts" / "screenshots" / "pressure"))
REPLIES = Path(__file__).resolve().parents[1] / "data" / "llm_replies"


@pytest.fixture
def pressed(live_server, transactional_db):
    """A live server; a run whose only verify worker measured 2 micro verifications in the last hour
    and 26 checked designs waiting for their first (the limit is 20): designing is paused."""
    run = EvolutionRun.objects.create(name="default", budgets={"micro": 64, "tiny": 16},
                                      settings={"design_workers": 2, "verify_workers": 1, "max_backlog": 20})
    seeds = checked_seeds()
    for seed in seeds:
        Verification.objects.create(design=seed, rung="micro", status="done", fitness=0.1)
    gpt = next(d for d in seeds if d.name == "gpt")
    for i in range(26):
        Design.objects.create(name=f"waiting-{i}", slug=f"waiting-{i}", origin_kind="gp", status="checked",
                              tree=gpt.tree, tree_hash=f"h{i}", run=run, generation=1)
    now = timezone.now()
    for i in range(2):
        d = Design.objects.create(name=f"done-{i}", slug=f"done-{i}", origin_kind="gp", status="verified",
                                  tree=gpt.tree, run=run, generation=1)
        Verification.objects.create(design=d, rung="micro", status="done", run=run, fitness=0.2,
                                    started_at=now - timedelta(minutes=30 + 24 * i),
                                    finished_at=now - timedelta(minutes=6 + 24 * i))
    ensure_user("rita", PASSWORD, "researcher")
    return live_server.url, run


def log_in(page, base: str, next_url: str = "/") -> None:
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def shoot_widths(page, name: str, selector: str) -> None:
    """The panel at 1440 and at 390 px wide (and the window at each width), then back to 1440."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        panel = page.locator(selector)
        panel.scroll_into_view_if_needed()
        panel.screenshot(path=str(SHOTS / f"{name}-{width}.png"))
        page.screenshot(path=str(SHOTS / f"{name}-{width}-window.png"))
    page.set_viewport_size({"width": 1440, "height": 900})


def test_the_dashboard_says_why_designing_is_paused_and_a_fix_works(pressed, page):
    base, run = pressed
    log_in(page, base, "/dashboard/")
    page.wait_for_url("**/dashboard/")
    pressure = page.locator("#pressure")
    expect(pressure.locator("h2")).to_have_text("Why designing is paused")
    expect(page.locator("#pressure-reason")).to_contain_text("26 checked designs await a first verification at micro")
    expect(page.locator("#pressure-reason")).to_contain_text("measured 2.0 designs/h")
    expect(page.locator("#pressure-reason")).to_contain_text("Designing resumes in about 3.5 h")
    expect(page.locator("#run-pressure")).to_have_text("designing paused")
    expect(page.locator("#design-slots-paused")).to_be_visible()
    expect(page.locator("#pressure-fixes li")).to_have_count(3)
    expect(page.locator("#fix-add_verify_worker code")).to_contain_text("-Q verify")
    shoot_widths(page, "dashboard-paused", "#pressure")
    page.goto(f"{base}/runs/{run.pk}/")  # the run page says the same
    expect(page.locator("#pressure-reason")).to_contain_text("26 checked designs await a first verification at micro")
    shoot_widths(page, "run-page-paused", "#pressure")
    page.goto(f"{base}/dashboard/")
    page.locator("#fix-raise_backlog button").click()
    expect(page.locator("#pressure-ok")).to_contain_text("applied: raise the verify backlog limit to 46")
    expect(page.locator("#pressure h2")).to_have_text("Back-pressure")
    run.refresh_from_db()
    assert run.settings["max_backlog"] == 46
    assert dispatch(run, random.Random(0))["design"] == 2  # the conductor designs again
    shoot_widths(page, "dashboard-fixed", "#pressure")
    assert page.errors == []


def test_a_researchers_request_runs_under_back_pressure(pressed, page, monkeypatch, tmp_path):
    base, run = pressed
    monkeypatch.setenv(KEY_ENV, "replay-key-not-real")
    monkeypatch.setenv("GENESYS_KNOWLEDGE_DIR", str(tmp_path / "no-library"))
    gpt = Design.objects.get(name="gpt")
    log_in(page, base, gpt.get_absolute_url())
    page.click("#decisions summary:has-text('Use as a parent')")
    page.fill("#decisions input[name=note]", "try a gated MLP")
    page.click("#decisions button:has-text('Queue a design from this parent')")
    expect(page.locator("#decisions .ok, ul.messages").first).to_contain_text("runs in a design slot of its own")
    row = page.locator("#design-requests li").first
    expect(row).to_have_attribute("data-state", "queued")

    counts = dispatch(run, random.Random(0))  # one conductor step, under back-pressure
    assert counts["design"] == 0 and counts["requests"] == 1
    request = DesignRequest.objects.get()
    job = Job.objects.get(params__request=request.id)
    page.reload()
    expect(row).to_contain_text(f"queued for a design worker (job #{job.id})")
    page.goto(f"{base}/dashboard/")
    expect(page.locator("#pressure h2")).to_have_text("Why designing is paused")
    expect(page.locator("#pressure #design-requests li").first).to_have_attribute("data-state", "queued")

    with ReplayServer.from_folder(REPLIES / "budget_stop") as server:
        point_designer_at(server)
        run_design_job(job.id)  # the design worker takes it, back-pressure or not
    request.refresh_from_db()
    assert request.status == "done" and request.result is not None
    page.goto(f"{base}{gpt.get_absolute_url()}")
    expect(row).to_have_attribute("data-state", "done")
    expect(row).to_contain_text(f"made {request.result.name}")
    shoot_widths(page, "design-request-done", "#decisions")
    page.goto(f"{base}/dashboard/")
    expect(page.locator("#pressure #design-requests li").first).to_contain_text(f"made {request.result.name}")
    shoot_widths(page, "dashboard-request-done", "#pressure")
    assert page.errors == []


def test_a_vetoed_design_offers_no_seed_button_and_a_forged_post_is_refused(pressed, page):
    base, _ = pressed
    target = Design.objects.get(name="waiting-3")
    rita = ensure_user("rita", PASSWORD, "researcher")[0]
    decisions.veto(target, rita, "only a constant changed")
    log_in(page, base, target.get_absolute_url())
    expect(page.locator("#seed-refusal")).to_contain_text("waiting-3 cannot be a seed: it is vetoed")
    expect(page.locator("#parent-refusal")).to_contain_text("waiting-3 cannot be a parent: it is vetoed")
    expect(page.locator("button:has-text('Add to the seed population')")).to_have_count(0)
    expect(page.locator("summary:has-text('Use as a parent')")).to_have_count(0)
    shoot_widths(page, "design-vetoed-refusal", "#decisions")
    # A forged form (the page's CSRF token, the make-seed URL) is refused with the rule's message.
    page.evaluate("""(url) => {
        const form = document.createElement('form');
        form.method = 'post'; form.action = url;
        const token = document.querySelector('input[name=csrfmiddlewaretoken]').cloneNode();
        form.appendChild(token); document.body.appendChild(form); form.submit();
    }""", f"/designs/{target.slug}/make-seed/")
    expect(page.locator("ul.messages")).to_contain_text("waiting-3 cannot be a seed: it is vetoed")
    target.refresh_from_db()
    assert not target.is_seed and not target.decisions.filter(kind="seed").exists()
    shoot_widths(page, "design-forged-seed-refused", "ul.messages")
    assert page.errors == []
