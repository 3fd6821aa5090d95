"""The dashboard and its run controls through the real views, services and database: what each role
sees, the numbers on it, and what the state buttons and the settings form do (and refuse)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evolution.core.loop_settings import LoopSettings
from evolution.models import Design, Event, EvolutionRun, Job, Verification
from evolution.selectors import dashboard as q
from evolution.services import jobs
from evolution.services.runs import ensure_active_run
from evolution.views.run_controls import FLOAT_FIELDS, INT_FIELDS

pytest_plugins = ["web_fixtures"]

DASHBOARD = "/dashboard/"


@pytest.fixture
def run(history) -> EvolutionRun:
    run = ensure_active_run()
    run.budgets = {"micro": 8, "14M": 20}
    run.save()
    return run


def _fitness_data(html: str) -> dict:
    start = html.index('<script id="fitness-data" type="application/json">') + len(
        '<script id="fitness-data" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


@pytest.mark.django_db
def test_a_viewer_sees_the_dashboard_but_no_controls(run, viewer, client_for):
    response = client_for(viewer).get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    for heading in ("Fitness", "Ladder", "Throughput", "Workers", "Events", "Run controls"):
        assert f"<h2>{heading}</h2>" in html
    assert 'id="settings-form"' not in html and reverse("evolution:run-state") not in html
    assert f'data-after="{Event.objects.order_by("-id").first().id}"' in html  # the stream starts here
    done = Verification.objects.filter(status="done", fitness__isnull=False).count()
    assert _fitness_data(html)["points"] == done > 0
    assert 'class="here">Dashboard</a>' in html


def test_every_scalar_loop_setting_has_a_form_field():
    assert set(INT_FIELDS) >= {"design_workers", "verify_workers", "max_designs", "max_attempts"}
    assert set(FLOAT_FIELDS) >= {"explore_prob", "top_fraction", "reverify_fraction", "stale_after_s"}


@pytest.mark.django_db
def test_a_researcher_sees_the_controls_filled_from_the_settings(run, researcher, client_for):
    html = client_for(researcher).get(DASHBOARD).content.decode()
    assert 'id="settings-form"' in html
    assert 'name="design_workers" value="2"' in html and 'name="explore_prob" value="0.2"' in html
    assert 'name="budget.14M" value="20"' in html and 'name="budget.tiny" value=""' in html
    assert 'class="state-running on"' in html  # the current state is pressed


@pytest.mark.django_db
def test_a_private_site_sends_anonymous_visitors_to_the_login(run, settings, client_for):
    settings.GENESYS_PRIVATE = True
    for url in (DASHBOARD, "/dashboard/fitness.json", "/dashboard/panels/ladder/"):
        response = client_for(None).get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_the_controls_panel_is_not_served_to_viewers(run, viewer, researcher, client_for):
    assert client_for(viewer).get("/dashboard/panels/controls/").status_code == 404
    assert client_for(researcher).get("/dashboard/panels/controls/").status_code == 200
    assert client_for(viewer).get("/dashboard/panels/nonsense/").status_code == 404


@pytest.mark.django_db
def test_fitness_series_has_best_and_mean_per_generation_and_the_best_so_far(run, client_for, viewer):
    data = client_for(viewer).get("/dashboard/fitness.json").json()
    rows = list(Verification.objects.filter(status="done", rung="14M").select_related("design").order_by("finished_at", "id"))
    series = next(s for s in data["rungs"] if s["rung"] == "14M")
    by_gen: dict[int, list[float]] = {}
    for v in rows:
        by_gen.setdefault(v.design.generation, []).append(v.fitness)
    assert series["generation"]["x"] == sorted(by_gen)
    assert series["generation"]["best"] == [max(by_gen[g]) for g in sorted(by_gen)]
    assert series["generation"]["mean"] == pytest.approx([sum(by_gen[g]) / len(by_gen[g]) for g in sorted(by_gen)])
    assert series["generation"]["n"] == [len(by_gen[g]) for g in sorted(by_gen)]
    fitness = [v.fitness for v in rows]
    assert series["time"]["fitness"] == fitness and series["time"]["name"] == [v.design.name for v in rows]
    assert series["time"]["best"] == [max(fitness[: i + 1]) for i in range(len(fitness))]
    last = fitness[-q.ROLLING:]
    assert series["time"]["mean"][-1] == pytest.approx(sum(last) / len(last))


@pytest.mark.django_db
def test_the_ladder_counts_budget_used_and_left(run, seeds):
    design = seeds[0]
    Verification.objects.create(design=design, rung="micro", rung_index=0, run=run, status="running")
    Verification.objects.create(design=seeds[1], rung="micro", rung_index=0, run=run, status="failed")
    Verification.objects.create(design=seeds[2], rung="micro", rung_index=0, run=run, status="done", fitness=0.02)
    rows = {r["rung"]: r for r in q.ladder_rows(run)}
    assert list(rows) == ["micro", "14M"]  # the run's rungs in ladder order
    micro = rows["micro"]
    assert (micro["running"], micro["failed"], micro["done"]) == (1, 1, 1)
    assert (micro["budget"], micro["used"], micro["left"]) == (8, 2, 6)  # a failed one does not spend budget
    assert micro["best"] == 0.02 and micro["used_pct"] == 25.0
    assert rows["14M"]["used"] == 0 and rows["14M"]["done"] > 0  # the history's rows belong to no run


@pytest.mark.django_db
def test_the_ladder_shows_rungs_outside_the_run_that_have_results(run, seeds, client_for, viewer):
    # Results at a rung the run does not budget (seeds verified on a bigger machine, an earlier run)
    # are still on the ladder, marked as outside the run, rather than missing from the dashboard.
    Verification.objects.create(design=seeds[0], rung="31M", rung_index=3, status="done", fitness=0.05)
    Verification.objects.create(design=seeds[1], rung="31M", rung_index=3, status="queued")
    rows = {r["rung"]: r for r in q.ladder_rows(run)}
    assert list(rows) == ["micro", "14M", "31M"]
    assert rows["31M"]["in_run"] is False and rows["31M"]["budget"] is None
    assert (rows["31M"]["done"], rows["31M"]["queued"], rows["31M"]["best"]) == (1, 1, 0.05)
    assert rows["micro"]["in_run"] and "70M" not in rows  # neither budgeted nor verified at
    html = client_for(viewer).get(DASHBOARD).content.decode()
    ladder = html.split('id="dash-ladder"')[1].split("</section>")[0]
    assert 'data-rung="31M"' in ladder and "not in this run" in ladder and "params ·" in ladder


@pytest.mark.django_db
def test_verifying_counts_running_designs_and_queued_ones_apart(run, history, viewer, client_for):
    verified = [d for d in history if d.status == "verified"][:3]
    Verification.objects.create(design=verified[0], rung="31M", rung_index=3, status="running")
    Verification.objects.create(design=verified[1], rung="31M", rung_index=3, status="queued")
    Verification.objects.create(design=verified[1], rung="70M", rung_index=4, status="queued")  # one design, twice
    Verification.objects.create(design=verified[2], rung="31M", rung_index=3, status="running")
    Verification.objects.create(design=verified[2], rung="70M", rung_index=4, status="queued")  # running counts
    Design.objects.filter(pk__in=[d.pk for d in verified]).update(status="verified")  # climbing, still verified
    summary = q.run_summary(run)
    assert (summary["verifying"], summary["verify_queued"]) == (2, 1)
    html = client_for(viewer).get(DASHBOARD).content.decode()
    assert '<div class="value" id="dash-verifying">2 <span class="small muted" id="dash-verify-queued">+ 1 queued</span>' in html


@pytest.mark.django_db
def test_verifying_is_zero_with_only_queued_verifications(run, history):
    Verification.objects.create(design=history[0], rung="31M", rung_index=3, status="queued")
    summary = q.run_summary(run)
    assert (summary["verifying"], summary["verify_queued"]) == (0, 1)


@pytest.mark.django_db
def test_throughput_counts_designs_and_verifications_per_hour(run):
    now = timezone.now()
    made = Design.objects.exclude(origin_kind="seed").count()
    finished = Verification.objects.filter(status__in=["done", "failed"]).count()
    Design.objects.filter(name__in=list(Design.objects.exclude(origin_kind="seed").values_list("name", flat=True)[:3])) \
        .update(created_at=now - timedelta(hours=3))
    t = q.throughput(run, now=now + timedelta(seconds=1))
    assert t["designs_window"] == made and t["designs_last_hour"] == made - 3
    assert t["verifications_window"] == finished == t["verifications_last_hour"]
    assert sum(t["chart"]["designs"]) == made and t["chart"]["designs"][-4] == 3
    assert len(t["chart"]["t"]) == 24


@pytest.mark.django_db
def test_the_workers_panel_shows_each_jobs_progress_and_heartbeat_age(run, checked, viewer, client_for):
    verification = Verification.objects.create(design=checked, rung="14M", rung_index=2, run=run, status="running")
    job = Job.objects.create(run=run, kind="verify", design=checked, verification=verification)
    job = jobs.claim(job.id)
    jobs.heartbeat(job, {"step": 120, "total_steps": 1000, "loss": 4.25, "tokens_per_s": 1.25e6, "mfu": 0.31,
                         "eta_s": 754, "verification": verification.id, "rung": "14M"})
    stale = jobs.claim(Job.objects.create(run=run, kind="design", params={}).id)
    Job.objects.filter(id=stale.id).update(heartbeat_at=timezone.now() - timedelta(seconds=600),
                                           progress={"mode": "mutation", "parents": ["gpt"]})
    Job.objects.create(run=run, kind="design")
    html = client_for(viewer).get("/dashboard/panels/workers/").content.decode()
    assert f'data-job="{job.id}"' in html and job.worker in html and checked.name in html
    assert "step 120/1000" in html and "loss 4.2500" in html and "1.25M/s tok" in html and "MFU 31.0%" in html
    assert "ETA 13 min" in html
    assert "mutation of gpt" in html and ">stale<" in html and "waiting for a worker" in html
    assert "design: <b>1</b> / 2 busy, 1 queued" in html and "verify: <b>1</b> / 1 busy" in html


@pytest.mark.django_db
def test_a_design_page_shows_its_running_verification(run, checked, viewer, client_for):
    verification = Verification.objects.create(design=checked, rung="14M", rung_index=2, run=run, status="running")
    job = jobs.claim(Job.objects.create(run=run, kind="verify", design=checked, verification=verification).id)
    jobs.heartbeat(job, {"step": 40, "total_steps": 400, "loss": 5.5, "tokens_per_s": 900.0, "eta_s": 4000})
    html = client_for(viewer).get(checked.get_absolute_url()).content.decode()
    assert f'data-verification="{verification.id}"' in html and f'data-design="{checked.id}"' in html
    assert "40 / 400" in html and "5.5000" in html and "900/s" in html and "1 h 7 min" in html
    assert 'style="width: 10%"' in html


# ---- run controls -----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_only_researchers_change_the_state(run, viewer, researcher, client_for):
    assert client_for(viewer).post("/dashboard/state/", {"state": "paused"}).status_code == 403
    assert client_for(None).post("/dashboard/state/", {"state": "paused"}).status_code == 302
    run.refresh_from_db()
    assert run.state == "running"
    response = client_for(researcher).post("/dashboard/state/", {"state": "paused"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "the run is now paused" in html and 'class="state-paused on"' in html
    run.refresh_from_db()
    event = Event.objects.filter(kind="run.state_changed").latest("id")
    assert run.state == "paused" and event.payload["to"] == "paused" and event.payload["actor"] == "rita"
    bad = client_for(researcher).post("/dashboard/state/", {"state": "exploding"}, HTTP_HX_REQUEST="true")
    assert "state must be one of running, paused, stopped" in bad.content.decode()


@pytest.mark.django_db
def test_a_plain_form_post_redirects_back_to_the_dashboard(run, researcher, client_for):
    response = client_for(researcher).post("/dashboard/state/", {"state": "stopped"})
    assert response.status_code == 302 and response["Location"] == DASHBOARD
    run.refresh_from_db()
    assert run.state == "stopped"


def _form(run: EvolutionRun, **changes) -> dict[str, str]:
    settings = LoopSettings.from_dict(run.settings)
    data = {n: str(getattr(settings, n)) for n in INT_FIELDS + FLOAT_FIELDS}
    data["designer"] = settings.designer
    data.update({f"mix.{k}": str(v) for k, v in settings.mix.items()})
    data.update({f"budget.{k}": str(v) for k, v in run.budgets.items()})
    data.update(changes)
    return data


@pytest.mark.django_db
def test_settings_are_saved_and_only_the_changes_are_recorded(run, researcher, client_for):
    form = _form(run, verify_workers="3", explore_prob="0.35", **{"mix.scratch": "0.1", "budget.micro": "16",
                                                                  "timeout.14M": "5400"})
    html = client_for(researcher).post("/dashboard/settings/", form, HTTP_HX_REQUEST="true").content.decode()
    assert "settings saved" in html
    run.refresh_from_db()
    s = LoopSettings.from_dict(run.settings)
    assert (s.verify_workers, s.explore_prob, s.mix["scratch"]) == (3, 0.35, 0.1)
    assert s.verify_timeout_s["14M"] == 5400 and run.budgets == {"micro": 16, "14M": 20}
    event = Event.objects.filter(kind="run.settings_changed").latest("id")
    assert set(event.payload["changes"]) == {"verify_workers", "explore_prob", "mix", "verify_timeout_s", "budgets"}
    again = client_for(researcher).post("/dashboard/settings/", _form(run), HTTP_HX_REQUEST="true").content.decode()
    assert "nothing changed" in again and Event.objects.filter(kind="run.settings_changed").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value", "message"), [
    ("explore_prob", "2", "explore_prob must be between 0 and 1"),
    ("design_workers", "two", "design_workers must be a number"),
    ("stale_after_s", "5", "stale_after_s must be at least 10 seconds"),
    ("budget.14M", "-1", "the budget of 14M must be an integer ≥ 0"),
    ("stale_after_s", "inf", "stale_after_s must be a finite number"),
])
def test_a_refused_setting_is_explained_next_to_the_form(run, researcher, client_for, field, value, message):
    before = dict(run.settings), dict(run.budgets)
    html = client_for(researcher).post("/dashboard/settings/", _form(run, **{field: value}),
                                       HTTP_HX_REQUEST="true").content.decode()
    assert 'role="alert"' in html and message in html
    assert f'name="{field}" value="{value}"' in html  # what was typed stays, to be corrected
    assert 'class="invalid"' in html
    run.refresh_from_db()
    assert (dict(run.settings), dict(run.budgets)) == before
    assert not Event.objects.filter(kind="run.settings_changed").exists()


@pytest.mark.django_db
def test_all_zero_mix_weights_are_refused(run, researcher, client_for):
    form = _form(run, **{"mix.scratch": "0", "mix.mutation": "0", "mix.crossover": "0"})
    html = client_for(researcher).post("/dashboard/settings/", form, HTTP_HX_REQUEST="true").content.decode()
    assert "mix weights must be non-negative and not all zero" in html and 'fieldset class="invalid"' in html


@pytest.mark.django_db
def test_viewers_cannot_change_settings(run, viewer, client_for):
    assert client_for(viewer).post("/dashboard/settings/", _form(run, verify_workers="9")).status_code == 403
    run.refresh_from_db()
    assert LoopSettings.from_dict(run.settings).verify_workers == 1


@pytest.mark.django_db
def test_the_feed_describes_recent_events(run, researcher, client_for):
    from evolution.services.loop import set_state

    set_state(run, "paused", researcher)
    html = client_for(researcher).get("/dashboard/panels/feed/").content.decode()
    assert "run running → paused" in html and "verification.done" in html and "verified at 14M: fitness" in html
    assert "verification.progress" not in html


@pytest.mark.django_db
def test_the_form_posted_back_as_rendered_changes_nothing(run, researcher, client_for):
    import re

    client = client_for(researcher)
    html = client.get(DASHBOARD).content.decode()
    form_html = html[html.index('id="settings-form"'):]
    form_html = form_html[:form_html.index("</form>")]
    data = dict(re.findall(r'<input type="number"[^>]*name="([^"]+)" value="([^"]*)"', form_html))
    data["designer"] = re.search(r'<option value="(\w+)" selected>', form_html).group(1)
    assert "timeout.14M" in data and data["timeout.14M"] == ""  # no explicit timeout: the default applies
    response = client.post("/dashboard/settings/", data, HTTP_HX_REQUEST="true").content.decode()
    assert "nothing changed" in response and not Event.objects.filter(kind="run.settings_changed").exists()
    data["timeout.14M"] = "7200"
    client.post("/dashboard/settings/", data, HTTP_HX_REQUEST="true")
    run.refresh_from_db()
    assert LoopSettings.from_dict(run.settings).verify_timeout_s["14M"] == 7200
