"""Runs through the database and the pages: starting a run from a preset, the ledger and lineage on the
run page and in `run_report`, the unit page's lineage, and the exports read back."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.db.models import Sum

from evolution.core.loop_settings import SettingsError
from evolution.models import CheckRun, Design, Event, EvolutionRun, Unit, Verification
from evolution.selectors.ledger import run_ledger
from evolution.selectors.run_export import TABLES, export_table
from evolution.services.runs import start_run
from evolution.services.work import designer_config_for

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(history) -> EvolutionRun:
    """A run that made the designed half of the history; costs as the jobs would have recorded them."""
    run = start_run("ablation-test", "full")
    designed = Design.objects.filter(is_seed=False).order_by("id")
    for i, d in enumerate(designed):
        Design.objects.filter(id=d.id).update(
            run=run, cpu_seconds=2.0 + i, designer_metrics={
                **d.designer_metrics, "tokens_by_role": {"proposer": [1000 + i, 100], "coder": [2000, 300 + i]},
                "dollars_by_role": {"proposer": 0.01 * (i + 1), "coder": 0.02}},
            cost_dollars=0.01 * (i + 1) + 0.02)
    for v in Verification.objects.filter(design__run=run):
        start = v.finished_at - timedelta(seconds=600) if v.finished_at else None
        Verification.objects.filter(id=v.id).update(run=run, cpu_seconds=400.0, started_at=start)
    CheckRun.objects.create(design=designed.first(), passed=True, report={"passed": True}, cpu_seconds=7.5)
    return run


def test_presets_start_runs_that_share_the_database(researcher, seeds):
    full = start_run("full-run", "full", user=researcher)
    base = start_run("base-run", "base", {"explore_prob": 0.5}, user=researcher)
    no_lit = start_run("no-lit", "no_literature")
    assert EvolutionRun.objects.filter(is_active=True).count() == 3
    assert base.settings["seed_parents_only"] is True and base.settings["explore_prob"] == 0.5
    assert full.settings["seed_parents_only"] is False
    started = Event.objects.filter(kind="run.started").order_by("id")
    assert [e.payload["preset"] for e in started] == ["full", "base", "no_literature"]
    assert started[1].payload["diff"] == {"seed_parents_only": True, "explore_prob": 0.5}
    # The no-literature switch reaches the designer; the others leave the literature on.
    assert designer_config_for(no_lit).literature is False and designer_config_for(full).literature is True
    with pytest.raises(SettingsError, match="taken"):
        start_run("base-run", "full")
    with pytest.raises(SettingsError, match="name must be"):
        start_run("  ", "full")


def test_start_form_refuses_bad_input_and_keeps_it(client_for, researcher, viewer, seeds):
    client = client_for(researcher)
    response = client.post("/runs/", {"name": "x", "preset": "full", "diff": "{not json"})
    assert response.status_code == 400 and "settings diff must be a JSON object" in response.content.decode()
    assert "{not json" in response.content.decode() and not EvolutionRun.objects.filter(name="x").exists()
    response = client.post("/runs/", {"name": "x", "preset": "full", "diff": '{"mix": {"scratch": NaN}}'})
    assert response.status_code == 400 and "finite numbers, got NaN" in response.content.decode()
    response = client.post("/runs/", {"name": "x", "preset": "nope"})
    assert response.status_code == 400 and "preset must be one of" in response.content.decode()
    response = client.post("/runs/", {"name": "x", "preset": "full", "diff": '{"literatur": false}'})
    assert response.status_code == 400 and "unknown setting(s): literatur" in response.content.decode()
    response = client.post("/runs/", {"name": "x", "preset": "base", "diff": '{"design_workers": 3}'})
    made = EvolutionRun.objects.get(name="x")
    assert response.status_code == 302 and response["Location"] == f"/runs/{made.pk}/"
    assert made.settings["design_workers"] == 3 and made.settings["seed_parents_only"] is True
    assert client_for(viewer).post("/runs/", {"name": "y", "preset": "full"}).status_code == 403
    page = client_for(viewer).get("/runs/").content.decode()
    assert "Base (parents only from the seeds)" in page and "design_workers=3" in page


def test_ledger_adds_up_what_the_tables_hold(run):
    data = run_ledger(run)
    designs = Design.objects.filter(run=run)
    assert data["run"]["dollars"] == pytest.approx(designs.aggregate(s=Sum("cost_dollars"))["s"])
    verifications = Verification.objects.filter(run=run)
    checks = 7.5
    assert data["run"]["cpu_s"] == pytest.approx(designs.aggregate(s=Sum("cpu_seconds"))["s"] + checks
                                                 + verifications.aggregate(s=Sum("cpu_seconds"))["s"])
    gpu = sum(v.gpu_seconds for v in verifications if v.rung not in ("micro", "screen", "tiny", "test"))
    assert data["run"]["gpu_s"] == pytest.approx(gpu) and gpu > 0
    roles = {r["role"]: r for r in data["by_role"]}
    n = designs.count()
    assert roles["coder"]["tokens_in"] == 2000 * n and roles["proposer"]["tokens_out"] == 100 * n
    assert len(data["designs"]) == n and data["curve"][-1]["dollars"] == pytest.approx(data["run"]["dollars"])
    assert data["fitness"]["gain"] is not None


def test_run_page_shows_the_ledger_and_lineage(client, run):
    response = client.get(f"/runs/{run.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    data = run_ledger(run)
    assert f"${data['run']['dollars']:.2f}" in html
    assert 'id="ledger-chart"' in html and 'id="lineage-operators"' in html and "mutation (LLM: full)" in html
    for table in TABLES:
        assert f"/runs/{run.pk}/export/{table}.parquet" in html
    assert client.get("/runs/999999/").status_code == 404


def test_run_report_prints_cost_and_lineage(run):
    out = io.StringIO()
    call_command("run_report", run.name, stdout=out)
    report = json.loads(out.getvalue())
    assert report["cost"]["run"] == run_ledger(run)["run"] and "designs" not in report["cost"]
    ops = {o["operator"]: o for o in report["lineage"]["operators"]}
    assert sum(o["children"] for o in ops.values()) == Design.objects.filter(run=run).count()


def test_unit_page_shows_its_lineage(client, run):
    unit = Unit.objects.order_by("-id").first()
    html = client.get(f"/units/{unit.content_hash}/").content.decode()
    assert 'id="unit-lineage"' in html and "Carried by" in html


@pytest.mark.parametrize("table", TABLES)
def test_exports_read_back_as_written(client, run, table):
    columns, rows, types = export_table(run, table)
    assert rows, f"the fixture run has {table}"
    parquet = client.get(f"/runs/{run.pk}/export/{table}.parquet")
    assert parquet.status_code == 200 and parquet["Content-Disposition"].endswith(f'-{table}.parquet"')
    back = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
    assert back == [{c: r.get(c) for c in columns} for r in rows]
    text = client.get(f"/runs/{run.pk}/export/{table}.csv").content.decode()
    read = list(csv.DictReader(io.StringIO(text)))
    assert list(read[0]) == columns and len(read) == len(rows)
    for got, want in zip(read, rows, strict=True):
        for c in columns:
            value = want.get(c)
            if value is None:
                assert got[c] == ""
            elif types[c] == "float":
                assert float(got[c]) == pytest.approx(value)
            else:
                assert got[c] == str(value)


def test_exports_refuse_unknown_tables_and_formats(client, run):
    assert client.get(f"/runs/{run.pk}/export/passwords.csv").status_code == 404
    response = client.get(f"/runs/{run.pk}/export/designs.xlsx")
    assert response.status_code == 404 and "formats csv, parquet" in response.content.decode()


def test_an_empty_run_exports_empty_tables_with_their_columns(client, seeds):
    empty = start_run("empty", "full")
    back = pq.read_table(io.BytesIO(client.get(f"/runs/{empty.pk}/export/designs.parquet").content))
    assert back.num_rows == 0 and "fitness" in back.column_names
    assert str(back.schema.field("fitness").type) == "double"
    assert client.get(f"/runs/{empty.pk}/").status_code == 200


def test_the_api_starts_runs_and_refuses_bad_ones(api_client_for, researcher, viewer, seeds):
    api = api_client_for(researcher, token=True)
    response = api.post("/api/runs/", {"name": "api-run", "preset": "no_feedback", "diff": {"explore_prob": 0.4},
                                       "budgets": {"micro": 5}}, format="json")
    assert response.status_code == 201
    made = EvolutionRun.objects.get(id=response.json()["id"])
    assert made.settings["fitness_feedback"] is False and made.budgets == {"micro": 5}
    listed = {r["name"]: r for r in api.get("/api/runs/").json()}
    assert listed["api-run"]["preset"] == "Without experiment feedback"
    assert listed["api-run"]["diff"] == {"fitness_feedback": False, "explore_prob": 0.4}
    for bad, message in [({"name": "b", "preset": "nope"}, "preset"), ({"name": "b", "diff": [1]}, "diff"),
                         ({"name": "b", "diff": {"top_fraction": 7}}, "top_fraction must be between 0 and 1"),
                         ({"name": "b", "budgets": {"nowhere": 1}}, "unknown rung"),
                         ({"name": "api-run"}, "taken")]:
        response = api.post("/api/runs/", bad, format="json")
        assert response.status_code == 400 and message in json.dumps(response.json()), bad
    assert api_client_for(viewer, token=True).post("/api/runs/", {"name": "v"}, format="json").status_code == 403
    analytics = api.get(f"/api/runs/{made.pk}/analytics/").json()
    assert set(analytics) == {"run", "cost", "lineage"} and analytics["cost"]["run"]["dollars"] == 0
    assert api.get("/api/runs/999999/analytics/").status_code == 404


def test_the_design_job_of_a_base_run_breeds_only_from_seeds(history):
    """Through the job's own choice (`work._choose`): the run's settings, the database's designs."""
    import random

    from evolution.models import Job
    from evolution.services.work import _choose

    base = start_run("base-choice", "base", {"mix": {"mutation": 1.0, "crossover": 1.0}})
    full = start_run("full-choice", "full", {"mix": {"mutation": 1.0, "crossover": 1.0},
                                             "explore_prob": 0.0})
    # The history's designed half belongs to both runs' population (no run): mostly non-seeds.
    assert Design.objects.filter(is_seed=False, run__isnull=True).count() > Design.objects.filter(is_seed=True).count()
    seeds = set(Design.objects.filter(is_seed=True).values_list("id", flat=True))
    rng = random.Random(11)
    picked = {"base": set(), "full": set()}
    for name, run in (("base", base), ("full", full)):
        job = Job(run=run, kind="design", params={})
        for _ in range(40):
            _, parents, _ = _choose(job, run, rng)
            picked[name].update(p.id for p in parents)
    assert picked["base"] and picked["base"] <= seeds
    assert picked["full"] - seeds  # the full run does breed from designed parents
