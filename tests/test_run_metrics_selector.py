"""A run's metrics from its rows (evolution.selectors.run_metrics, run_compare), `manage.py run_report`,
and the run and comparison pages through Django's test client. Numbers checked by hand in
`run_metrics_fixtures`."""

from __future__ import annotations

import json
import math
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from evolution.selectors.run_compare import CompareError, compare_runs, parse_run_ids, settings_diff
from evolution.selectors.run_metrics import run_metrics
from evolution.selectors.run_report import run_report

pytest_plugins = ["web_fixtures", "run_metrics_fixtures"]

pytestmark = pytest.mark.django_db

KEY = "test · likelihood"


def test_population_curve_and_table_2_metrics_of_a_run(metric_runs):
    full, _ = metric_runs
    m = run_metrics(full, resamples=50)
    assert m["designs"] == 5
    (rung,) = m["rungs"]
    assert rung["key"] == KEY
    # Seeds -2 and -1 form the start; the run's designs -1.0 and -0.4 (mean of its seeds -0.5, -0.3).
    assert rung["by_design"]["x"] == [0, 1, 2]
    assert rung["by_design"]["mean"] == pytest.approx([-1.5, -4 / 3, -1.1])
    assert rung["by_design"]["max"] == pytest.approx([-1.0, -1.0, -0.4])
    got = rung["metrics"]
    assert (got["n"], got["initial"]) == (2, 2)
    assert got["delta"] == pytest.approx(0.4) and got["delta_max"] == pytest.approx(0.6)
    assert got["volatility"] == pytest.approx((1 / 15) / math.sqrt(2))
    assert got["sharpe"] == pytest.approx(0.2 / ((1 / 15) / math.sqrt(2)))
    assert got["max_drawdown"] == 0.0
    low, high = rung["intervals"]["final_mean"]
    assert low <= -1.1 <= high
    # Over time: the seeds count from the run's start, each verification then moves the population.
    t = rung["over_time"]
    assert t["minutes"][:2] == [0.0, 0.0] and t["n"] == [1, 2, 3, 4, 4]
    assert t["mean"][-1] == pytest.approx(-1.1)


def test_error_rates_per_stage_and_category(metric_runs):
    full, _ = metric_runs
    stages = run_metrics(full, resamples=10)["errors"]["stages"]
    assert stages["design"] == {"attempts": 6, "errors": 2, "rate": pytest.approx(1 / 3),
                                "categories": {"no-design": 1, "crash": 1}}
    assert stages["check"] == {"attempts": 4, "errors": 1, "rate": 0.25, "categories": {"shape-mismatch": 1}}
    assert stages["verify"] == {"attempts": 4, "errors": 1, "rate": 0.25, "categories": {"too-slow": 1}}
    timeline = run_metrics(full, bucket_minutes=5, resamples=10)["errors"]["over_time"]
    assert [b["minute"] for b in timeline] == [0, 5, 10]
    assert sum(sum(b["categories"].values()) for b in timeline) == 4
    with pytest.raises(ValueError):
        run_metrics(full, bucket_minutes=0)


def test_designers_valid_rate_and_attempts(metric_runs):
    full, _ = metric_runs
    (gp,) = run_metrics(full, resamples=10)["designers"]
    assert (gp["designer"], gp["designs"], gp["valid"], gp["attempts"]) == ("gp", 5, 3, 5)
    assert gp["valid_rate"] == pytest.approx(0.6) and gp["attempts_per_valid"] == pytest.approx(5 / 3)


def test_a_run_without_designs_has_empty_metrics(db):
    from evolution.models import EvolutionRun

    run = EvolutionRun.objects.create(name="empty", budgets={})
    m = run_metrics(run, resamples=10)
    assert m["rungs"] == [] and m["designers"] == [] and m["errors"]["stages"]["verify"]["rate"] is None


def test_comparison_metrics_settings_diff_and_verdicts(metric_runs):
    full, ablated = metric_runs
    c = compare_runs([full, ablated], resamples=200)
    (rung,) = c["rungs"]
    assert rung["first_n"] == 2
    rows = {r["metric"]: r for r in rung["rows"]}
    assert rows["delta"]["values"] == [pytest.approx(0.4), pytest.approx(-0.1)]
    assert rows["final_mean"]["values"] == [pytest.approx(-1.1), pytest.approx(-1.6)]
    verdict = rows["final_mean"]["verdicts"][1]
    assert verdict["difference"] == pytest.approx(-0.5)
    assert verdict["label"] == "not enough data"  # two designs per run: too few for a verdict
    assert rows["final_mean"]["verdicts"][0] is None
    assert c["settings_diff"] == [{"setting": "fitness_feedback", "values": [True, False]}]
    rates = {r["metric"]: r for r in c["rates"]}
    assert rates["valid_design_rate"]["counts"] == [[3, 5], [2, 2]]
    assert rates["design_error_rate"]["values"] == [pytest.approx(1 / 3), 0.0]


def test_settings_diff_is_generic():
    class R:
        def __init__(self, settings, budgets):
            self.settings, self.budgets = settings, budgets

    diff = settings_diff([R({"a": 1, "b": 2}, {"test": 1}), R({"a": 1, "c": 3}, {"test": 2})])
    assert diff == [{"setting": "b", "values": [2, None]}, {"setting": "budgets", "values": [{"test": 1}, {"test": 2}]},
                    {"setting": "c", "values": [None, 3]}]


@pytest.mark.parametrize(("raw", "message"), [
    ("", "at least two"), ("3", "at least two"), ("1,x", "run ids separated by commas"), ("1,1", "at least two"),
    ("1,2,3,4,5,6,7", "at most 6"),
])
def test_bad_run_lists_are_refused_with_a_reason(raw, message):
    with pytest.raises(CompareError, match=message):
        parse_run_ids(raw)


def test_run_report_json_and_table(metric_runs):
    full, _ = metric_runs
    report = run_report(full)
    assert report["metrics"]["rungs"][0]["metrics"]["delta"] == pytest.approx(0.4)
    out = StringIO()
    call_command("run_report", "full", stdout=out)
    assert json.loads(out.getvalue())["metrics"]["designers"][0]["valid"] == 3
    out = StringIO()
    call_command("run_report", "full", "--table", "--first-n", "1", stdout=out)
    text = out.getvalue()
    assert KEY in text and "delta" in text and "shape-mismatch" in text
    assert "0.1667" in text  # Δ over the first design: -4/3 - (-1.5)
    with pytest.raises(CommandError, match="first-n"):
        call_command("run_report", "full", "--first-n", "-1")
    with pytest.raises(CommandError, match="no run"):
        call_command("run_report", "nope")


def test_run_page_and_metrics_json(client, metric_runs):
    full, _ = metric_runs
    page = client.get(reverse("evolution:run", args=[full.id]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Population fitness at test" in html and "shape-mismatch" in html and "0.4000" in html
    assert client.get(reverse("evolution:run", args=[99999])).status_code == 404
    data = client.get(reverse("evolution:run-metrics", args=[full.id])).json()
    assert data["rungs"][0]["metrics"]["delta"] == pytest.approx(0.4)
    listing = client.get(reverse("evolution:runs")).content.decode()
    assert "full" in listing and "ablated" in listing


def test_compare_page_and_its_errors(client, metric_runs):
    full, ablated = metric_runs
    url = reverse("evolution:run-compare")
    page = client.get(url, {"runs": f"{full.id},{ablated.id}"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "fitness_feedback" in html and "the noise" in html and "-1.6000" in html
    bad = client.get(url, {"runs": "abc"})
    assert bad.status_code == 400 and "run ids separated by commas" in bad.content.decode()
    missing = client.get(url, {"runs": f"{full.id},99999"})
    assert missing.status_code == 400 and "no run with id 99999" in missing.content.decode()
    assert client.get(url).status_code == 200  # no runs named yet: the form
