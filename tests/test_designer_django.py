"""The Django side of the designer: settings (models per role, providers, budget) in the database and
on a page, and `manage.py design`, whose designs appear in the web app with their proposal, review
rounds and implementation trace."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.urls import include, path

import genesys_site.urls
from designer.forms import DesignerSettingsForm
from designer.models import DesignerSettings, validate_env_name
from designer.services import active_settings

# Until the site's urls.py includes the designer's, these tests mount it themselves.
urlpatterns = [path("designer/", include("designer.urls")), *genesys_site.urls.urlpatterns]
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls(__name__),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]

REPLIES = Path(__file__).parent / "data" / "llm_replies"


@pytest.fixture
def no_keys(monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GENESYS_LLM_API_KEY", "GENESYS_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_settings_become_the_pipeline_config_with_a_provider_per_role(monkeypatch):
    settings = active_settings()
    settings.coder_provider = "compatible"
    settings.compatible_base_url = "http://127.0.0.1:8000/v1"
    settings.coder_model = "Qwen/Qwen2.5-Coder-32B-Instruct"
    settings.implementation_budget_dollars = 1
    settings.use_observer = False
    settings.save()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    config = active_settings().to_config(theme="long context")
    assert config.roles["coder"].provider == "compatible" and config.roles["proposer"].provider == "anthropic"
    assert config.providers["compatible"].base_url == "http://127.0.0.1:8000/v1"
    assert config.providers["anthropic"].api_key_env == "ANTHROPIC_API_KEY"
    assert config.limits.implementation_budget_dollars == 1.0 and config.limits.proposal_threshold == 4
    assert config.ablation.observer is False and config.theme == "long context"
    assert config.llm_ready() == (True, "")


def test_a_key_pasted_where_its_variable_name_belongs_is_refused():
    data = {**DesignerSettingsForm(instance=active_settings()).initial, "anthropic_key_env": "sk-ant-api03-secret"}
    form = DesignerSettingsForm(data, instance=active_settings())
    assert not form.is_valid()
    assert "looks like an API key" in str(form.errors["anthropic_key_env"])


@pytest.mark.parametrize("name", ["DATABASE_URL", "SECRET_KEY", "DJANGO_SECRET_KEY", "REDIS_URL", "HOME",
                                  "GENESYS_LLM_KEY", "GENESYS_LLM_api_KEY"])
def test_a_key_setting_names_only_key_variables(name):
    data = {**DesignerSettingsForm(instance=active_settings()).initial, "compatible_key_env": name}
    form = DesignerSettingsForm(data, instance=active_settings())
    assert not form.is_valid() and "compatible_key_env" in form.errors


@pytest.mark.parametrize("name", ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GENESYS_LLM_API_KEY", "GENESYS_LLM_VLLM_2_KEY"])
def test_key_variables_are_accepted(name):
    validate_env_name(name)


def test_a_row_saved_around_the_validators_never_reads_a_secret(monkeypatch):
    settings = active_settings()
    DesignerSettings.objects.filter(pk=settings.pk).update(openai_key_env="SECRET_KEY", default_provider="openai")
    monkeypatch.setenv("SECRET_KEY", "django-insecure-secret")
    spec = active_settings().provider_settings("openai")
    assert spec.api_key_env == "OPENAI_API_KEY" and spec.api_key() != "django-insecure-secret"


def test_settings_page_shows_readiness_but_never_a_key(client, monkeypatch, no_keys):
    page = client.get("/designer/settings/")
    assert page.status_code == 200
    assert b"Genetic programming" in page.content and b"ANTHROPIC_API_KEY is not set" in page.content
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-very-secret")
    page = client.get("/designer/settings/")
    assert b"LLM agents ready" in page.content and b"very-secret" not in page.content
    assert b"claude-sonnet-5-5" in page.content  # the model of each role
    assert b'href="/designer/settings/" class="here">Designer</a>' in page.content  # in everyone's nav


def test_only_users_with_the_right_may_change_settings(client):
    form = DesignerSettingsForm(instance=active_settings())
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update(coder_model="gpt-4.1", coder_provider="openai", use_observer="on")
    assert client.post("/designer/settings/", data).status_code == 302  # to the login page
    User.objects.create_user("viewer", password="pw")
    client.login(username="viewer", password="pw")
    assert client.post("/designer/settings/", data).status_code == 403
    admin = User.objects.create_user("admin", password="pw")
    admin.user_permissions.add(Permission.objects.get(codename="change_designersettings"))
    client.login(username="admin", password="pw")
    response = client.post("/designer/settings/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = DesignerSettings.objects.get(name="default")
    assert saved.coder_model == "gpt-4.1" and saved.role_provider("coder") == "openai" and saved.updated_by == admin


def test_prompt_templates_are_shown_by_version(client):
    page = client.get("/designer/prompts/v1/")
    assert page.status_code == 200 and b"coder_system" in page.content and b"v1@" in page.content
    assert client.get("/designer/prompts/v0/").status_code == 404


def test_design_command_without_a_provider_runs_the_gp_designer(no_keys):
    out = io.StringIO()
    call_command("design", "--parents", "gpt", "mamba2", "--mode", "crossover", "--seed", "3", stdout=out)
    text = out.getvalue()
    assert "designer: gp" in text
    assert "outcome: implemented" in text and "crossover of gpt, mamba2" in text
    assert "attempts: 0 proposal round(s), 0 implementation attempt(s)" in text
    assert "cost: $0.0000" in text and "stored: " in text
    from evolution.models import Design

    child = Design.objects.get(generation=1)
    assert child.origin_kind == "gp" and sorted(p.name for p in child.parents.all()) == ["gpt", "mamba2"]


@pytest.mark.slow
def test_design_command_replays_an_llm_run_that_shows_in_the_web_app(client, monkeypatch):
    monkeypatch.setenv("GENESYS_REPLAY_API_KEY", "replay-key-not-real")
    out = io.StringIO()
    call_command("design", "--parents", "gpt", "--replay", str(REPLIES / "mutation_repair"), stdout=out)
    text = out.getvalue()
    assert "outcome: implemented - ShortConvGLU (mutation of gpt)" in text
    assert "attempts: 2 proposal round(s) (scores 3, 4), 2 implementation attempt(s)" in text
    assert "ShortConvGLU attempt 1: rolled back: non-causal" in text and "ShortConvGLU attempt 2: accepted" in text
    assert "cost: $0.2" in text
    from evolution.models import Design

    design = Design.objects.get(name="ShortConvGLU")
    assert design.proposal["title"] == "Short-conv GLU" and len(design.review_rounds) == 2 and len(design.trace) == 2
    assert design.origin["prompt_version"].startswith("v1@") and design.cost_dollars > 0.2
    page = client.get(design.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert "Short-conv GLU" in html and "Review rounds" in html and "Pad the sequence on the left only" in html
    assert "Implementation trace" in html and "padding=shortconv_kernel // 2" in html
