"""A researcher's session in a real browser: log in, open the tree, search it, open a design from the
plot, read its diff, annotate a line, promote (double click: one verification), veto, and seed a
design by upload. Screenshots of each step go to artifacts/screenshots/."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from evolution.core.ladder import default_budgets
from evolution.demo import build_history
from evolution.models import Annotation, Design, EvolutionRun, Upload, Verification
from evolution.services.roles import ensure_user
from verifier.core.seeds import SEEDS_DIR, load_seed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "browser-pass-123"


@pytest.fixture
def studio(live_server, transactional_db):
    """A live server with the seeds, a small history (verified at 14M) and a researcher, on a
    deployment with a GPU (the run's budgets cover the GPU rungs)."""
    EvolutionRun.objects.create(name="default", budgets=default_budgets(has_gpu=True))
    build_history(16, seed=7, demo=False)
    ensure_user("rita", PASSWORD, "researcher")
    return live_server.url


def log_in(page, base: str, next_url: str = "/") -> None:
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_browse_annotate_promote_veto(studio, page, shoot):
    log_in(page, studio)
    expect(page.locator("#lineage")).to_have_attribute("data-ready", "1")
    expect(page.locator(".topbar .role")).to_have_text("researcher")
    assert page.locator("#lineage .scatterlayer, #lineage canvas").count() > 0
    shoot(page, "01-tree")

    # Search highlights the matches in the plot and lists them (htmx partial).
    target = Design.objects.filter(mode="mutation", status__in=["checked", "verified"]).order_by("-generation").first()
    page.fill("input[name=q]", target.name)
    expect(page.locator("#result-list")).to_contain_text(target.name)
    expect(page.locator("#lineage")).not_to_have_attribute("data-highlighted", "all")
    assert f"q={target.name}" in page.url
    shoot(page, "02-tree-search")

    # A click on the design's marker opens it (Plotly's click event on the node trace).
    index = page.evaluate(
        "(slug) => JSON.parse(document.getElementById('graph-data').textContent).nodes.slug.indexOf(slug)",
        target.slug)
    page.evaluate("(i) => document.getElementById('lineage').emit('plotly_click', {points: [{curveNumber: 1, "
                  "pointIndex: i}]})", index)
    page.wait_for_url(f"**/designs/{target.slug}/")
    expect(page.locator("h1")).to_contain_text(target.name)
    expect(page.locator("svg.diagram")).to_be_visible()
    expect(page.locator("#units .code").first).to_be_visible()
    shoot(page, "03-design", full_page=True)

    # Its diff against the parent.
    page.click("text=Diff against parent")
    expect(page.locator(".comparison")).to_contain_text("1 changed")
    expect(page.locator("table.sbs").first).to_be_visible()
    shoot(page, "04-diff")
    page.go_back()

    # Annotate a line: clicking its number pins the form to the unit and line.
    unit = target.unit_links.order_by("position").first().name
    page.click(f"#u-{unit}-L3 td.ln a")
    expect(page.locator("#annotate-form select[name=unit_name]")).to_have_value(unit)
    expect(page.locator("#annotate-form input[name=line]")).to_have_value("3")
    page.fill("#annotate-form textarea[name=text]", "This constant looks hand-tuned.")
    page.click("#annotate-form button[type=submit]")
    expect(page.locator("#annotations")).to_contain_text("annotation added")
    expect(page.locator("#annotations")).to_contain_text(f"{unit}:3")
    note = Annotation.objects.get(design=target)
    assert (note.unit_name, note.line, note.author.username) == (unit, 3, "rita")
    shoot(page, "05-annotated")

    # Promote: a double click queues one verification.
    promote = page.locator("#promote-box button")
    expect(promote).to_be_enabled()
    rung_text = promote.inner_text()
    promote.dblclick()
    expect(page.locator("#decisions")).to_contain_text("queued")
    expect(page.locator("#decisions")).to_contain_text("promoted")
    assert Verification.objects.filter(design=target, status="queued").count() == 1, rung_text
    shoot(page, "06-promoted")

    # Veto needs a reason; the header badge updates in place.
    page.click("#decisions summary:has-text('Veto')")
    page.fill("#veto-form textarea[name=reason]", "Only a constant changed: not a new idea.")
    page.click("#veto-form button[type=submit]")
    expect(page.locator("#design-badges")).to_contain_text("vetoed")
    expect(page.locator("#decision-history")).to_contain_text("Only a constant changed")
    target.refresh_from_db()
    assert target.verdict == "vetoed"
    shoot(page, "07-vetoed")
    assert page.errors == []


def _zip_of_gpt() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((SEEDS_DIR / "gpt").glob("*.py")):
            text = path.read_text()
            if path.stem == "GatedMLP":  # a variant that computes something else: not a functional clone of gpt
                text = text.replace("F.silu(gate)", "F.gelu(gate)")
            archive.writestr(f"gpt_browser/{path.name}", text)
    return buffer.getvalue()


def run_check_jobs() -> None:
    """What a worker on the `check` queue does (the live server has no worker of its own)."""
    from evolution.models import Job
    from evolution.services import work

    for job in Job.objects.filter(kind=Job.Kind.CHECK, status=Job.Status.QUEUED).order_by("id"):
        work.run_check_job(job.id)


def test_seed_a_design_by_upload(studio, page, shoot, tmp_path):
    log_in(page, studio, "/seed/")
    expect(page.locator("h1")).to_have_text("Seed a design")
    archive = tmp_path / "gpt_browser.zip"
    archive.write_bytes(_zip_of_gpt())
    page.set_input_files("input[name=file]", str(archive))
    page.fill("input[name=name]", "GPT browser upload")
    shoot(page, "08-seed-form")
    page.click("#seed-form button[type=submit]")
    # The request only reads the design; its page says "checking" until a worker's verdict.
    page.wait_for_url(re.compile(r".*/seed/uploads/\d+/"), timeout=60_000)
    expect(page.locator("#upload-status")).to_have_text("checking")
    shoot(page, "09-upload-checking")
    run_check_jobs()
    page.reload()
    expect(page.locator("#upload-status")).to_have_text("accepted")
    design = Design.objects.get(name="GPT browser upload")
    page.click(f"a[href='{design.get_absolute_url()}']")
    page.wait_for_url(re.compile(rf".*{re.escape(design.get_absolute_url())}$"))
    expect(page.locator("#checker")).to_contain_text("passed")
    assert design.generation == 0 and design.origin_kind == "upload"
    shoot(page, "09-seeded-design")

    # A design that leaks the future is refused, with the checker's findings.
    leaky = load_seed("gpt")
    leaky.name = "leaky"
    leaky.units["MHA"].code = leaky.units["MHA"].code.replace("is_causal=True", "is_causal=False")
    page.goto(f"{studio}/seed/")
    page.fill("textarea[name=text]", json.dumps(leaky.to_dict()))
    page.click("#seed-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/seed/uploads/\d+/"), timeout=60_000)
    run_check_jobs()
    page.reload()
    expect(page.locator("#checker table.findings")).to_be_visible()
    assert Upload.objects.get(name="leaky").status == "rejected"
    assert not Design.objects.filter(name="leaky").exists()
    shoot(page, "10-upload-rejected", full_page=True)


def test_results_read_against_parents_chance_and_noise(studio, page, shoot):
    """The design page's charts: loss against training tokens with the parent's curve underneath and a
    log switch; accuracy bars with error bars and chance marks. The tree names the seeds."""
    from evolution.models import Verification

    child = next(d for d in Design.objects.filter(generation__gt=0, status="verified").order_by("id")
                 if Verification.objects.filter(design__in=d.parents.all(), rung="14M", status="done").exists())
    log_in(page, studio, child.get_absolute_url())
    chart = page.locator("#loss-chart")
    expect(chart).to_have_attribute("data-xaxis", "tokens")
    names = page.evaluate("() => document.getElementById('loss-chart').data.map((t) => t.name)")
    assert any(name.endswith("(parent)") for name in names) and "14M train" in names
    page.locator("#loss-chart .updatemenu-button").nth(1).click()  # "log"
    page.wait_for_function("() => document.getElementById('loss-chart').layout.yaxis.type === 'log'")
    scores = page.evaluate("() => document.getElementById('score-chart').data.map((t) => "
                           "[t.name, !!(t.error_y && t.error_y.visible)])")
    assert ["chance", False] in scores and ["14M", True] in scores
    expect(page.locator("#task-table")).to_contain_text("±")
    shoot(page, "11-design-results", full_page=True)

    page.goto(f"{studio}/")
    expect(page.locator("#lineage")).to_have_attribute("data-ready", "1")
    labels = page.evaluate("() => document.getElementById('lineage').data[2].text")
    assert set(labels) == set(Design.objects.filter(is_seed=True).values_list("name", flat=True))
    assert page.errors == []
