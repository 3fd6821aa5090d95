"""Researcher actions through the pages' forms: approve, veto, annotate, promote, make a seed, use as
a parent. Each is refused for anonymous users and viewers, checks CSRF, and lands in the audit log."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from evolution.models import Annotation, Decision, DesignRequest, Event, Verification

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.django_db

ACTIONS = {
    "approve": {},
    "veto": {"reason": "reinvents attention"},
    "annotate": {"text": "interesting gate"},
    "promote": {},
    "make-seed": {},
    "use-as-parent": {},
}


@pytest.mark.parametrize("action", ACTIONS)
def test_anonymous_users_are_sent_to_the_login(client, seeds, action):
    response = client.post(reverse(f"evolution:{action}", args=[seeds[0].slug]), ACTIONS[action])
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Decision.objects.exists() and not Annotation.objects.exists()


@pytest.mark.parametrize("action", ACTIONS)
def test_viewers_are_refused(client_for, viewer, seeds, action):
    response = client_for(viewer).post(reverse(f"evolution:{action}", args=[seeds[0].slug]), ACTIONS[action])
    assert response.status_code == 403
    assert not Decision.objects.exists() and not Annotation.objects.exists() and not Verification.objects.exists()


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_need_a_csrf_token(researcher, seeds, action):
    client = Client(enforce_csrf_checks=True)
    client.force_login(researcher)
    response = client.post(reverse(f"evolution:{action}", args=[seeds[0].slug]), ACTIONS[action])
    assert response.status_code == 403 and b"CSRF" in response.content


def test_actions_refuse_get(client_for, researcher, checked):
    assert client_for(researcher).get(reverse("evolution:approve", args=[checked.slug])).status_code == 405


def test_csrf_token_from_the_page_is_accepted(researcher, checked):
    client = Client(enforce_csrf_checks=True)
    client.force_login(researcher)
    page = client.get(checked.get_absolute_url())
    token = page.content.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = client.post(reverse("evolution:approve", args=[checked.slug]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    checked.refresh_from_db()
    assert checked.verdict == "approved"


def test_veto_requires_a_reason(client_for, researcher, checked):
    client = client_for(researcher)
    response = client.post(reverse("evolution:veto", args=[checked.slug]), {"reason": ""}, follow=True)
    assert "a veto needs a reason" in response.content.decode()
    checked.refresh_from_db()
    assert checked.verdict == ""
    client.post(reverse("evolution:veto", args=[checked.slug]), {"reason": "same as parent"})
    checked.refresh_from_db()
    assert checked.verdict == "vetoed" and checked.verdict_reason == "same as parent"
    decision = Decision.objects.get(design=checked)
    assert (decision.kind, decision.actor, decision.reason) == ("veto", researcher, "same as parent")


def test_htmx_veto_returns_the_updated_panel(client_for, researcher, checked):
    response = client_for(researcher).post(reverse("evolution:veto", args=[checked.slug]), {"reason": "dup"},
                                           HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200 and page.lstrip().startswith('<section class="card section actions" id="decisions">')
    assert "vetoed" in page and 'hx-swap-oob="true"' in page and "“dup”" in page


def test_double_promotion_queues_one_verification(client_for, researcher, checked):
    client = client_for(researcher)
    page = client.get(checked.get_absolute_url()).content.decode()
    rung = page.split('name="rung" value="')[1].split('"')[0]
    url = reverse("evolution:promote", args=[checked.slug])
    first = client.post(url, {"rung": rung}, HTTP_HX_REQUEST="true")
    second = client.post(url, {"rung": rung}, HTTP_HX_REQUEST="true")
    assert f"verification at {rung} queued" in first.content.decode()
    assert f"verification at {rung} already queued" in second.content.decode()
    assert Verification.objects.filter(design=checked).count() == 1
    assert Decision.objects.filter(design=checked, kind="promote").count() == 1
    assert Event.objects.filter(design=checked, kind="verification.queued").count() == 1


def test_annotation_pinned_to_a_line_shows_on_the_page(client_for, researcher, seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    client = client_for(researcher)
    response = client.post(reverse("evolution:annotate", args=[gpt.slug]),
                           {"text": "why no bias here?", "unit_name": "MHA", "line": "5"}, HTTP_HX_REQUEST="true")
    assert "annotation added" in response.content.decode() and "MHA:5" in response.content.decode()
    page = client.get(gpt.get_absolute_url()).content.decode()
    assert 'id="u-MHA-L5" class="pinned"' in page and "why no bias here?" in page
    bad = client.post(reverse("evolution:annotate", args=[gpt.slug]), {"text": "x", "unit_name": "Nope"},
                      HTTP_HX_REQUEST="true")
    assert "has no unit" in bad.content.decode() and Annotation.objects.count() == 1


def test_use_as_parent_and_make_seed(client_for, researcher, history):
    a, b = [d for d in history if d.generation > 0 and d.status in ("checked", "verified")][:2]
    client = client_for(researcher)
    client.post(reverse("evolution:use-as-parent", args=[a.slug]), {"co_parent": b.name, "note": "mix"})
    request = DesignRequest.objects.get()
    assert request.mode == "crossover" and set(request.parents.all()) == {a, b}
    missing = client.post(reverse("evolution:use-as-parent", args=[a.slug]), {"co_parent": "nope"}, follow=True)
    assert "no design named" in missing.content.decode()
    client.post(reverse("evolution:make-seed", args=[a.slug]))
    a.refresh_from_db()
    assert a.is_seed and list(a.decisions.values_list("kind", flat=True)) == ["parent", "seed"]


def test_decision_history_is_shown_newest_first(client_for, researcher, checked):
    client = client_for(researcher)
    client.post(reverse("evolution:approve", args=[checked.slug]))
    client.post(reverse("evolution:veto", args=[checked.slug]), {"reason": "changed my mind"})
    page = client.get(checked.get_absolute_url()).content.decode()
    history = page.split('id="decision-history"')[1]
    assert history.index("vetoed") < history.index("approved") and "rita" in history


def test_a_refused_annotation_comes_back_as_it_was_typed(client_for, researcher, seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    text = "the rotary base looks small for a 2k context"
    response = client_for(researcher).post(reverse("evolution:annotate", args=[gpt.slug]),
                                           {"text": text, "unit_name": "MHA", "line": "9999"}, HTTP_HX_REQUEST="true")
    panel = response.content.decode()
    assert 'role="alert"' in panel and "lines" in panel and not Annotation.objects.exists()
    assert f">{text}</textarea>" in panel  # nothing typed is lost
    assert '<option value="MHA" selected>' in panel and 'value="9999"' in panel


def test_a_refused_crossover_keeps_the_form_open_and_filled(client_for, researcher, checked):
    response = client_for(researcher).post(reverse("evolution:use-as-parent", args=[checked.slug]),
                                           {"co_parent": "NoSuchDesign", "note": "try a gate"}, HTTP_HX_REQUEST="true")
    panel = response.content.decode()
    assert "no design named" in panel and '<details open><summary>Use as a parent' in panel
    assert 'value="NoSuchDesign"' in panel and 'value="try a gate"' in panel


def test_a_design_without_a_tree_cannot_become_a_seed(client_for, researcher, seeds):
    from designer.core.result import DesignerResult
    from evolution.services.designs import create_design_from_result

    broken = create_design_from_result(DesignerResult(
        mode="mutation", parents=["gpt"], origin={"kind": "llm"}, status="failed", name="Broken",
        failure="ran out of implementation attempts", proposal={"title": "A broken idea"}), seeds[:1])
    assert broken.status == "invalid" and not broken.tree
    client = client_for(researcher)
    page = client.get(broken.get_absolute_url()).content.decode()
    assert 'id="no-tree"' in page and "Add to the seed population" not in page and "Promote to" not in page
    response = client.post(reverse("evolution:make-seed", args=[broken.slug]), HTTP_HX_REQUEST="true")
    assert "cannot be a seed" in response.content.decode()
    broken.refresh_from_db()
    assert not broken.is_seed and not Decision.objects.filter(design=broken).exists()


def test_a_test_rung_smoke_run_does_not_block_promotion(client_for, researcher, checked):
    from evolution.demo import fake_report
    from evolution.services.verifications import record_report

    smoke = Verification.objects.create(design=checked, rung="test", rung_index=99)
    record_report(smoke, fake_report("test", 0.01, __import__("random").Random(0), design_hash=checked.tree_hash))
    page = client_for(researcher).get(checked.get_absolute_url()).content.decode()
    assert "Promote to" in page and "every rung" not in page


def test_a_design_verified_above_the_runs_rungs_says_why_it_cannot_climb(client_for, researcher, history):
    from evolution.services.runs import ensure_active_run

    run = ensure_active_run()
    run.budgets = {"micro": 8, "tiny": 4}
    run.save()
    design = next(d for d in history if d.status == "verified" and d.generation > 0)  # verified at 14M only
    page = client_for(researcher).get(design.get_absolute_url()).content.decode()
    assert "verified at 14M, above every rung this run verifies at (micro, tiny)" in page
