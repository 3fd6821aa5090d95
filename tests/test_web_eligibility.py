"""The seed-and-parent rule shared by the pages, the API and the management commands: an invalid or
vetoed design (or any status that cannot be built on) becomes neither a seed nor a parent, whichever
way it is asked, and a page offers only what the services accept, saying why otherwise."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from evolution.models import Decision, Design, DesignRequest
from evolution.services import decisions

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def vetoed(checked, researcher) -> Design:
    decisions.veto(checked, researcher, "only a constant changed")
    checked.refresh_from_db()
    return checked


@pytest.fixture
def invalid_with_tree(history) -> Design:
    """A design that has a tree but failed the checker."""
    design = next(d for d in history if d.generation > 0 and d.tree)
    Design.objects.filter(id=design.id).update(status=Design.Status.INVALID)
    design.refresh_from_db()
    return design


def test_a_vetoed_design_offers_neither_seed_nor_parent_and_says_why(client_for, researcher, vetoed):
    page = client_for(researcher).get(vetoed.get_absolute_url()).content.decode()
    assert "Add to the seed population" not in page and "Use as a parent…" not in page
    assert f"Not offered: {vetoed.name} cannot be a seed: it is vetoed" in page
    assert f"Not offered: {vetoed.name} cannot be a parent: it is vetoed" in page


@pytest.mark.parametrize("action", ["make-seed", "use-as-parent"])
def test_a_forged_post_on_a_vetoed_design_is_refused_with_the_message(client_for, researcher, vetoed, action):
    client = client_for(researcher)
    panel = client.post(reverse(f"evolution:{action}", args=[vetoed.slug]), HTTP_HX_REQUEST="true").content.decode()
    role = "seed" if action == "make-seed" else "parent"
    assert 'role="alert"' in panel and f"cannot be a {role}: it is vetoed" in panel
    plain = client.post(reverse(f"evolution:{action}", args=[vetoed.slug]), follow=True).content.decode()
    assert f"cannot be a {role}: it is vetoed" in plain
    vetoed.refresh_from_db()
    assert not vetoed.is_seed and not DesignRequest.objects.exists()
    assert list(Decision.objects.filter(design=vetoed).values_list("kind", flat=True)) == ["veto"]


@pytest.mark.parametrize("role", ["seed", "parent"])
def test_an_invalid_design_with_a_tree_is_refused_everywhere(client_for, api_client_for, researcher,
                                                            invalid_with_tree, role):
    design = invalid_with_tree
    page = client_for(researcher).get(design.get_absolute_url()).content.decode()
    assert f"Not offered: {design.name} cannot be a {role}: it is invalid" in page
    api = api_client_for(researcher).post("/api/decisions/", {"design": design.slug, "kind": role}, format="json")
    assert api.status_code == 400 and f"cannot be a {role}: it is invalid" in str(api.json())
    detail = api_client_for(researcher).get(f"/api/designs/{design.slug}/").json()
    assert detail["refusals"][role].startswith(f"{design.name} cannot be a {role}")
    design.refresh_from_db()
    assert not design.is_seed and not DesignRequest.objects.exists() and not design.decisions.exists()


def test_a_checked_design_offers_both_and_the_api_says_nothing_stands_in_the_way(client_for, api_client_for,
                                                                                 researcher, checked):
    page = client_for(researcher).get(checked.get_absolute_url()).content.decode()
    assert "Add to the seed population" in page and "Use as a parent…" in page and "Not offered" not in page
    assert api_client_for(researcher).get(f"/api/designs/{checked.slug}/").json()["refusals"] == {
        "seed": None, "parent": None}


def test_a_vetoed_co_parent_is_refused_too(client_for, researcher, vetoed, history):
    other = next(d for d in history if d.generation > 0 and d.status in ("checked", "verified") and d.id != vetoed.id)
    panel = client_for(researcher).post(reverse("evolution:use-as-parent", args=[other.slug]),
                                        {"co_parent": vetoed.name}, HTTP_HX_REQUEST="true").content.decode()
    assert f"{vetoed.name} cannot be a parent: it is vetoed" in panel and not DesignRequest.objects.exists()


def test_the_design_command_refuses_a_vetoed_parent(vetoed):
    with pytest.raises(CommandError, match=f"{vetoed.name} cannot be a parent: it is vetoed"):
        call_command("design", "--parents", vetoed.name, "--gp", "--no-store")


def test_the_admin_offers_no_way_around_the_rule(client_for, admin_user, vetoed):
    response = client_for(admin_user).get(reverse("admin:evolution_design_change", args=[vetoed.id]))
    assert response.status_code == 200 and 'name="is_seed"' not in response.content.decode()
