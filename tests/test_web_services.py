"""The evolution app's data layer through the real database: designs, shared units, events,
decisions, promotion and verification results."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from designer.core.result import Cost, DesignerResult
from evolution import broadcast
from evolution.demo import fake_report, mutate
from evolution.models import CheckRun, Decision, Design, DesignUnit, Event, Unit, Verification
from evolution.selectors.units import designs_using
from evolution.services import annotations, decisions, verifications
from evolution.services.designs import create_design_from_result
from evolution.services.events import record_event
from evolution.services.roles import create_roles, ensure_user
from evolution.services.runs import ensure_active_run
from evolution.services.seeding import seed_designs
from verifier.core.seeds import available_seeds, load_seed

pytest_plugins = ["web_fixtures"]  # fixtures: roles, researcher, viewer, admin_user, seeds, history, …


def _result(parent: Design, name: str = "GatedGPT") -> DesignerResult:
    tree = mutate(load_seed(parent.name), random.Random(0), name)
    tree.name = name
    return DesignerResult(
        mode="mutation", parents=[parent.name], status="implemented", tree=tree, name=name,
        origin={"kind": "llm", "models": {"proposer": "claude", "implementer": "o3"}},
        proposal={"title": "Gate the MLP", "motivation": "because"},
        review_rounds=[{"round": 1, "review": "fine", "score": 4.2, "passed": True}],
        trace=[{"unit": "GatedMLP", "attempt": 1, "findings": [], "rating": 4}],
        check_report={"passed": True, "findings": [], "figures": {"params": 123}, "sandbox": "bwrap"},
        cost=Cost(tokens_in=1000, tokens_out=200, dollars=0.12, seconds=30.0),
        prompt_version="v1",
    )


@pytest.mark.django_db
def test_seed_designs_loads_every_available_seed_once(seeds):
    assert sorted(d.name for d in seeds) == sorted(available_seeds())
    assert all(d.generation == 0 and d.is_seed and d.origin_kind == "seed" for d in seeds)
    assert all(d.composed_code.startswith('"""Composed GAB') for d in seeds)
    again = seed_designs(check=False)
    assert not any(o.created for o in again)
    assert Design.objects.count() == len(seeds)
    assert Event.objects.filter(kind="design.created").count() == len(seeds)


@pytest.mark.django_db
def test_create_design_from_result_stores_everything_and_records_an_event(seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    design = create_design_from_result(_result(gpt), [gpt])
    design.refresh_from_db()
    assert design.generation == 1 and list(design.parents.all()) == [gpt]
    assert design.origin_kind == "llm" and design.origin["models"]["proposer"] == "claude"
    assert design.origin["prompt_version"] == "v1" and design.mode == "mutation"
    assert design.proposal["title"] == "Gate the MLP" and design.summary == "Gate the MLP"
    assert design.review_rounds[0]["score"] == 4.2 and design.trace[0]["unit"] == "GatedMLP"
    assert (design.tokens_in, design.tokens_out, design.cost_dollars, design.designer_seconds) == (1000, 200, 0.12, 30.0)
    assert design.status == "checked" and design.composed_code and design.tree_hash
    check = CheckRun.objects.get(design=design)
    assert check.passed and check.sandbox == "bwrap"
    event = Event.objects.filter(design=design).get()
    assert event.kind == "design.created" and event.payload["parents"] == [gpt.id]


@pytest.mark.django_db
def test_failed_designer_run_is_kept_as_invalid_without_a_tree(seeds):
    result = DesignerResult(mode="mutation", parents=["gpt"], origin={"kind": "gp"}, status="failed",
                            failure="ran out of attempts", cost=Cost(tokens_in=5))
    design = create_design_from_result(result, [])
    assert design.status == "invalid" and design.tree is None and design.origin_kind == "gp"
    assert design.failure == "ran out of attempts" and design.parents.get().name == "gpt"


@pytest.mark.django_db
def test_units_are_stored_once_and_shared(seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    child = create_design_from_result(_result(gpt), [gpt])
    shared = set(DesignUnit.objects.filter(design=gpt).values_list("unit_id", flat=True)) & set(
        DesignUnit.objects.filter(design=child).values_list("unit_id", flat=True))
    assert len(shared) == len(load_seed("gpt").units) - 1  # one unit was edited
    assert Unit.objects.filter(content_hash__in=load_seed("gpt").unit_hashes().values()).count() == 5
    # A unit only the GPT seed has (RMSNorm, for one, is shared with other seeds).
    unit = Unit.objects.filter(pk__in=shared, name__in=["MHA", "RotaryPositionalEmbeddings"]).first()
    with CaptureQueriesContext(connection) as queries:
        users = list(designs_using(unit))
    assert {d.name for d in users} == {"gpt", child.name} and len(queries) == 1


@pytest.mark.django_db(transaction=True)
def test_record_event_broadcasts_after_commit(monkeypatch):
    seen = []
    monkeypatch.setattr(broadcast, "broadcast", seen.append)
    first = record_event("test.one", {"a": 1})
    second = record_event("test.two", {"b": 2})
    assert [e.id for e in seen] == [first.id, second.id] and second.id > first.id


@pytest.mark.django_db
def test_record_event_waits_for_the_transaction(monkeypatch, django_capture_on_commit_callbacks):
    seen = []
    monkeypatch.setattr(broadcast, "broadcast", seen.append)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = record_event("test.one", {"a": 1})
        assert seen == []  # not before the commit
    assert len(callbacks) == 1 and seen == [event]


@pytest.mark.django_db
def test_veto_needs_a_reason_and_a_researcher(checked, researcher, viewer):
    design = checked
    with pytest.raises(ValidationError):
        decisions.veto(design, researcher, "  ")
    with pytest.raises(PermissionDenied):
        decisions.veto(design, viewer, "no")
    decision = decisions.veto(design, researcher, "copies the parent")
    again = decisions.veto(design, researcher, "copies the parent")
    design.refresh_from_db()
    assert design.verdict == "vetoed" and design.verdict_reason == "copies the parent"
    assert again.pk == decision.pk and Decision.objects.filter(design=design).count() == 1
    assert Event.objects.filter(kind="design.vetoed", design=design).count() == 1
    decisions.approve(design, researcher)
    design.refresh_from_db()
    assert design.verdict == "approved"
    assert list(design.decisions.values_list("kind", flat=True)) == ["veto", "approve"]


@pytest.mark.django_db
def test_promotion_is_idempotent_and_spends_budget(checked, researcher):
    design = checked
    first, created = verifications.promote(design, researcher)
    second, created_again = verifications.promote(design, researcher)
    third, _ = verifications.promote(design, researcher, first.rung)
    assert created and not created_again and first.pk == second.pk == third.pk
    assert Verification.objects.filter(design=design).count() == 1
    assert Decision.objects.filter(design=design, kind="promote").count() == 1
    assert Event.objects.filter(design=design, kind="verification.queued").count() == 1
    design.refresh_from_db()
    assert design.status == "verifying"


@pytest.mark.django_db
def test_promotion_refused_when_the_budget_is_spent(checked, researcher):
    design = checked
    run = ensure_active_run()
    rung = verifications.next_rung(design, run).name
    used = Verification.objects.filter(run=run, rung=rung).exclude(status="failed").count()
    run.budgets = {**run.budgets, rung: used}  # nothing left
    run.save()
    with pytest.raises(verifications.PromotionRefused, match="budget"):
        verifications.promote(design, researcher)


@pytest.mark.django_db
def test_vetoed_and_invalid_designs_are_not_promoted(checked, researcher):
    design = checked
    decisions.veto(design, researcher, "no")
    with pytest.raises(verifications.PromotionRefused, match="vetoed"):
        verifications.promote(Design.objects.get(pk=design.pk), researcher)
    invalid = Design.objects.filter(status="invalid").first()
    if invalid is not None:
        with pytest.raises(verifications.PromotionRefused, match="checked"):
            verifications.promote(invalid, researcher)


@pytest.mark.django_db
def test_verification_report_sets_fitness_confidence_and_status(checked, researcher, admin_user):
    design = checked
    v, _ = verifications.promote(design, researcher, "micro")
    with pytest.raises(PermissionDenied):
        verifications.record_report(v, {"fitness": 0.1}, researcher)  # researchers do not report results
    verifications.start_verification(v, admin_user)
    report = fake_report("micro", 0.1, random.Random(1), design_hash=design.tree_hash)
    verifications.record_report(v, report, admin_user)
    design.refresh_from_db()
    assert design.status == "verified" and design.confidence == 1
    v.refresh_from_db()
    # The rung fitness is recomputed from the raw rows (micro: mean log-probability per byte of the
    # correct answer); F is its z-score in the rung's population, 0 for the only design there.
    logprobs = [row["logprob_per_byte"] for row in report["eval"].values()]
    assert v.fitness_metric == "likelihood" and v.fitness == pytest.approx(sum(logprobs) / len(logprobs))
    assert design.fitness == 0.0
    assert v.metrics["final_loss"] == report["val_loss"] and set(v.metrics["tasks"]) == set(report["eval"])
    failed, _ = verifications.promote(design, researcher, "tiny")
    verifications.record_report(failed, {"status": "failed", "error": "nan_loss: the loss became NaN"}, admin_user)
    design.refresh_from_db()
    failed.refresh_from_db()
    assert failed.status == "failed" and failed.error.startswith("nan_loss")
    assert design.status == "verified" and design.confidence == 1  # a failed rung does not count
    retry, created = verifications.promote(design, researcher, "tiny")
    assert created and retry.pk == failed.pk and retry.status == "queued"
    smoke = Verification.objects.create(design=design, rung="test", rung_index=99)
    verifications.record_report(smoke, fake_report("test", -0.4, random.Random(2), design_hash=design.tree_hash),
                                admin_user)
    design.refresh_from_db()
    smoke.refresh_from_db()
    assert smoke.status == "done" and design.confidence == 1 and design.fitness == 0.0  # the smoke run does not count


@pytest.mark.django_db
def test_annotations_validate_unit_and_line(history, researcher, viewer):
    design = next(d for d in history if d.name == "gpt")
    note = annotations.annotate(design, researcher, "rotary base looks small", "MHA", 3)
    assert note.unit_name == "MHA" and note.line == 3
    with pytest.raises(ValidationError):
        annotations.annotate(design, researcher, "x", "NoSuchUnit")
    with pytest.raises(ValidationError):
        annotations.annotate(design, researcher, "x", "MHA", 10_000)
    with pytest.raises(ValidationError):
        annotations.annotate(design, researcher, "")
    with pytest.raises(PermissionDenied):
        annotations.annotate(design, viewer, "hello")
    assert Event.objects.filter(kind="annotation.created").count() == 1


@pytest.mark.django_db
def test_use_as_parent_queues_a_request(history, researcher):
    a, b = [d for d in history if d.status in ("checked", "verified")][:2]
    request = decisions.use_as_parent(a, researcher, [b], "try mixing these")
    assert request.mode == "crossover" and set(request.parents.all()) == {a, b}
    assert Decision.objects.get(design=a, kind="parent").details["request"] == request.id
    decisions.make_seed(a, researcher)
    a.refresh_from_db()
    assert a.is_seed


@pytest.mark.django_db
def test_roles_are_idempotent_and_grant_the_right_rights():
    create_roles()
    groups = create_roles()
    assert set(groups) == {"viewer", "researcher", "admin"}
    user, created = ensure_user("x", "pw-pw-pw-1", "researcher")
    again, created_again = ensure_user("x", "other", "viewer")
    assert created and not created_again and again.check_password("pw-pw-pw-1")
    again = type(again).objects.get(pk=again.pk)
    assert not again.has_perm("evolution.decide_design")
    admin, _ = ensure_user("boss", "pw-pw-pw-2", "admin")
    admin = type(admin).objects.get(pk=admin.pk)
    assert admin.is_staff and admin.has_perm("evolution.change_verification") and admin.has_perm("evolution.decide_design")
