"""The run-controls form's fitness metric (LoopSettings.fitness_metric): each choice shown with what it
measures, a researcher changes it, a viewer cannot, and a made-up metric is refused with the reason."""

from __future__ import annotations

import re

import pytest

from evolution.core.loop_settings import LoopSettings
from evolution.models import Event, EvolutionRun
from evolution.services.runs import ensure_active_run
from evolution.views.run_controls import FITNESS_METRICS
from verifier.core.train.fitness import DEFAULT_METRIC, METRICS

pytest_plugins = ["web_fixtures"]

DASHBOARD = "/dashboard/"
SETTINGS = "/dashboard/settings/"


@pytest.fixture
def run(db) -> EvolutionRun:
    return ensure_active_run()


def _metric(run: EvolutionRun) -> str:
    run.refresh_from_db()
    return LoopSettings.from_dict(run.settings).fitness_metric


def test_every_selectable_metric_has_its_one_line_explanation():
    assert list(FITNESS_METRICS) == [DEFAULT_METRIC, *METRICS]
    assert all(text and "\n" not in text for text in FITNESS_METRICS.values())


@pytest.mark.django_db
def test_the_form_offers_each_metric_with_its_explanation_and_the_current_one_checked(run, researcher, client_for):
    html = client_for(researcher).get(DASHBOARD).content.decode()
    box = html.split('id="fitness-metric"')[1].split("</fieldset>")[0]
    for name, text in FITNESS_METRICS.items():
        assert f'value="{name}"' in box and text in box
    assert re.findall(r'value="(\w+)" checked', box) == ["default"]


@pytest.mark.django_db
def test_a_researcher_changes_the_metric_and_the_change_is_logged(run, researcher, client_for):
    client = client_for(researcher)
    html = client.post(SETTINGS, {"fitness_metric": "likelihood"}, HTTP_HX_REQUEST="true").content.decode()
    assert "settings saved: fitness_metric" in html and _metric(run) == "likelihood"
    assert re.findall(r'value="(\w+)" checked', html.split('id="fitness-metric"')[1].split("</fieldset>")[0]) == [
        "likelihood"]
    event = Event.objects.filter(kind="run.settings_changed").latest("id")
    assert event.payload["changes"] == {"fitness_metric": "likelihood"}
    again = client.post(SETTINGS, {"fitness_metric": "likelihood"}, HTTP_HX_REQUEST="true").content.decode()
    assert "nothing changed" in again


@pytest.mark.django_db
def test_an_unknown_metric_is_refused_and_nothing_changes(run, researcher, client_for):
    html = client_for(researcher).post(SETTINGS, {"fitness_metric": "vibes"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'role="alert"' in html and "fitness_metric must be default or one of accuracy, likelihood, bpb" in html
    assert 'class="choices invalid" id="fitness-metric"' in html
    assert _metric(run) == "default" and not Event.objects.filter(kind="run.settings_changed").exists()


@pytest.mark.django_db
def test_a_viewer_cannot_change_the_metric_nor_see_the_form(run, viewer, client_for):
    client = client_for(viewer)
    assert client.post(SETTINGS, {"fitness_metric": "bpb"}).status_code == 403
    assert client_for(None).post(SETTINGS, {"fitness_metric": "bpb"}).status_code == 302
    assert _metric(run) == "default"
    assert 'id="fitness-metric"' not in client.get(DASHBOARD).content.decode()
