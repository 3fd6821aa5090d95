"""The REST API through DRF's client: reads with filters and pagination, writes through the same
services as the pages (same refusals), token authentication for workers, the OpenAPI schema."""

from __future__ import annotations

import json
import random

import pytest
from django.test import override_settings

from evolution.demo import fake_report
from evolution.models import Annotation, Decision, Design, Event, Job, Unit, Upload, Verification
from evolution.services import work
from evolution.services.verifications import record_report

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.django_db


def test_design_list_is_paginated_and_light(client, history):
    data = client.get("/api/designs/").json()
    assert data["count"] == len(history) and len(data["results"]) == min(50, len(history))
    first = data["results"][0]
    assert set(first) == {"id", "name", "slug", "url", "generation", "parents", "status", "verdict", "is_seed",
                          "origin_kind", "fitness", "fitness_std", "confidence", "created_at"}
    page = client.get("/api/designs/", {"page_size": 5, "page": 2}).json()
    assert page["count"] == len(history)


def test_design_list_filters_and_ordering(client, history):
    seeds = client.get("/api/designs/", {"seeds": "true"}).json()
    assert {d["name"] for d in seeds["results"]} == {d.name for d in history if d.is_seed}
    verified = client.get("/api/designs/", {"status": "verified", "ordering": "fitness"}).json()["results"]
    fitness = [d["fitness"] for d in verified]
    assert fitness == sorted(fitness, reverse=True) and all(d["status"] == "verified" for d in verified)
    by_unit = client.get("/api/designs/", {"unit": "RotaryPositionalEmbeddings"}).json()["results"]
    assert "gpt" in {d["name"] for d in by_unit} and "mamba2" not in {d["name"] for d in by_unit}
    gen = client.get("/api/designs/", {"generation_min": 1, "origin": "llm"}).json()["results"]
    assert gen and all(d["generation"] >= 1 and d["origin_kind"] == "llm" for d in gen)


def test_design_detail_has_tree_code_units_and_verifications(client, verified):
    data = client.get(f"/api/designs/{verified.slug}/").json()
    assert data["tree"]["root"] == verified.root_unit and data["composed_code"] == verified.composed_code
    assert {u["name"] for u in data["units"]} == set(verified.tree["units"])
    assert data["verifications"][0]["rung"] == "14M" and data["verifications"][0]["status"] == "done"
    assert data["parent_names"] == [p.name for p in verified.parents.all()]
    assert data["proposal"]["title"] and data["review_rounds"] and data["trace"]


def test_lineage_endpoints(client, history):
    graph = client.get("/api/lineage/", {"q": "gpt"}).json()
    assert graph["count"] == len(history) and len(graph["nodes"]["x"]) == len(history)
    assert Design.objects.get(name="gpt").id in graph["matches"]
    child = next(d for d in history if d.generation > 0)
    lineage = client.get(f"/api/designs/{child.slug}/lineage/").json()
    assert {p["id"] for p in lineage["parents"]} == set(child.parents.values_list("id", flat=True))


def test_units_and_the_designs_that_use_them(client, history):
    units = client.get("/api/units/", {"name": "MHA"}).json()
    assert units["count"] >= 1 and all(u["name"] == "MHA" for u in units["results"])
    unit = Unit.objects.filter(name="MHA").order_by("id").first()
    detail = client.get(f"/api/units/{unit.content_hash}/").json()
    assert detail["code"] == unit.code and detail["n_designs"] >= 1
    users = client.get(f"/api/units/{unit.content_hash}/designs/").json()
    assert {d["name"] for d in users["results"]} == set(Design.objects.filter(unit_links__unit=unit).values_list(
        "name", flat=True))


def test_anonymous_and_viewer_writes_are_refused(client, api_client_for, viewer, checked):
    for api in (client, api_client_for(viewer), api_client_for(viewer, token=True)):
        assert api.post(f"/api/designs/{checked.slug}/approve/").status_code in (401, 403)
        assert api.post(f"/api/designs/{checked.slug}/veto/", {"reason": "x"}).status_code in (401, 403)
        assert api.post(f"/api/designs/{checked.slug}/promote/").status_code in (401, 403)
        assert api.post("/api/annotations/", {"design": checked.slug, "text": "hi"}).status_code in (401, 403)
        assert api.post("/api/decisions/", {"design": checked.slug, "kind": "approve"}).status_code in (401, 403)
        assert api.post("/api/designs/", {"text": "{}"}).status_code in (401, 403)
    assert not Decision.objects.exists() and not Annotation.objects.exists()
    assert not Verification.objects.filter(design=checked).exists()


def test_researcher_with_a_token_decides_annotates_and_promotes_once(api_client_for, researcher, checked):
    api = api_client_for(researcher, token=True)
    assert api.post(f"/api/designs/{checked.slug}/veto/", {}, format="json").status_code == 400
    veto = api.post(f"/api/designs/{checked.slug}/veto/", {"reason": "too slow"}, format="json")
    assert veto.status_code == 200 and veto.json()["kind"] == "veto" and veto.json()["actor"] == "rita"
    approve = api.post("/api/decisions/", {"design": checked.slug, "kind": "approve", "reason": "reconsidered"})
    assert approve.status_code == 201
    checked.refresh_from_db()
    assert checked.verdict == "approved"
    note = api.post("/api/annotations/", {"design": checked.slug, "text": "look at the gate", "unit_name": "nope"})
    assert note.status_code == 400
    note = api.post("/api/annotations/", {"design": checked.slug, "text": "look at the gate"})
    assert note.status_code == 201 and note.json()["author"] == "rita"
    first = api.post(f"/api/designs/{checked.slug}/promote/", {}, format="json")
    second = api.post(f"/api/designs/{checked.slug}/promote/", {}, format="json")
    assert (first.status_code, second.status_code) == (201, 200) and first.json()["id"] == second.json()["id"]
    assert Verification.objects.filter(design=checked).count() == 1


def test_worker_reports_a_verification_with_a_token(api_client_for, researcher, admin_user, checked):
    researcher_api = api_client_for(researcher, token=True)
    verification = researcher_api.post(f"/api/designs/{checked.slug}/promote/", {"rung": "micro"}, format="json").json()
    queued = api_client_for(admin_user, token=True).get("/api/verifications/", {"status": "queued"}).json()
    assert verification["id"] in [v["id"] for v in queued["results"]]
    report = fake_report("micro", 0.12, random.Random(0), design_hash=checked.tree_hash)
    url = f"/api/verifications/{verification['id']}/report/"
    assert researcher_api.post(url, {"report": report}, format="json").status_code == 403
    worker = api_client_for(admin_user, token=True)
    assert worker.post(f"/api/verifications/{verification['id']}/start/").json()["status"] == "running"
    done = worker.post(url, {"report": report}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert done.json()["report"]["fitness"] == report["fitness"]
    checked.refresh_from_db()
    assert checked.status == "verified" and checked.fitness == 0.0  # the only design at micro: z = 0


def test_events_are_ordered_and_replayable(client, api_client_for, researcher, checked):
    last = Event.objects.order_by("-id").first().id
    api_client_for(researcher).post(f"/api/designs/{checked.slug}/approve/")
    api_client_for(researcher).post("/api/annotations/", {"design": checked.slug, "text": "note"})
    events = client.get("/api/events/", {"after": last}).json()["results"]
    assert [e["kind"] for e in events] == ["design.approved", "annotation.created"]
    assert events[0]["id"] < events[1]["id"] and events[0]["design"] == checked.id
    assert client.get("/api/events/", {"after": "x"}).status_code == 400
    assert client.get("/api/events/", {"after": "99999999999999999999"}).status_code == 200  # no overflow
    assert client.get("/api/designs/", {"generation_min": "99999999999999999999", "min_fitness": "nan"}).status_code == 200


def test_upload_through_the_api(api_client_for, researcher, seeds):
    api = api_client_for(researcher, token=True)
    tree = json.loads(json.dumps(Design.objects.get(name="gpt").tree))
    tree["units"]["GatedMLP"]["code"] = tree["units"]["GatedMLP"]["code"].replace("F.silu(gate)", "F.gelu(gate)")
    created = api.post("/api/designs/", {"tree": tree, "name": "gpt-api"}, format="json")
    assert created.status_code == 202, created.content
    upload = created.json()
    assert upload["status"] == "checking" and upload["design"] is None
    for job in Job.objects.filter(kind="check", status="queued"):
        work.run_check_job(job.id)  # what a worker on the `check` queue does
    checked = api.get(f"/api/uploads/{upload['id']}/").json()
    assert checked["status"] == "accepted" and checked["design"] == "gpt-api"
    assert Design.objects.get(slug="gpt-api").origin_kind == "upload"
    again = api.post("/api/designs/", {"tree": tree}, format="json")
    assert again.status_code == 409 and again.json()["design"] == "gpt-api"
    assert api_client_for(None).get(f"/api/uploads/{upload['id']}/").status_code in (401, 403)


def test_api_uploads_have_the_seed_forms_size_limit(api_client_for, researcher):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from evolution.core.intake import MAX_UPLOAD_BYTES

    api = api_client_for(researcher, token=True)
    big = SimpleUploadedFile("big.zip", b"PK\x03\x04" + b"\0" * MAX_UPLOAD_BYTES)
    response = api.post("/api/designs/", {"file": big}, format="multipart")
    assert response.status_code == 400 and "larger than" in str(response.json())
    text = api.post("/api/designs/", {"text": "x" * (MAX_UPLOAD_BYTES + 1)}, format="json")
    assert text.status_code == 400
    assert not Upload.objects.exists() and not Job.objects.exists()


def test_schema_and_swagger_page(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    for path in ("/api/designs/", "/api/designs/{slug}/promote/", "/api/lineage/", "/api/units/",
                 "/api/verifications/{id}/report/", "/api/annotations/", "/api/decisions/", "/api/events/"):
        assert path in paths, path
    assert client.get("/api/docs/").status_code == 200


def test_fitness_intervals_and_metric_are_exposed_read_only(client, api_client_for, researcher, seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    v = Verification.objects.create(design=gpt, rung="micro", rung_index=0)
    record_report(v, fake_report("micro", 0.1, random.Random(0), design_hash=gpt.tree_hash))
    v.refresh_from_db()
    gpt.refresh_from_db()
    assert v.status == "done" and v.fitness_stderr is not None and gpt.fitness_std is not None
    listed = next(d for d in client.get("/api/designs/").json()["results"] if d["name"] == "gpt")
    assert listed["fitness_std"] == gpt.fitness_std
    brief = client.get(f"/api/designs/{gpt.slug}/").json()["verifications"][0]
    assert (brief["fitness_stderr"], brief["fitness_metric"]) == (v.fitness_stderr, v.fitness_metric) == (
        v.fitness_stderr, "likelihood")
    row = client.get("/api/verifications/", {"design": gpt.slug}).json()["results"][0]
    assert (row["fitness"], row["fitness_stderr"], row["fitness_metric"]) == (v.fitness, v.fitness_stderr, "likelihood")
    assert client.get(f"/api/verifications/{v.id}/").json()["fitness_metric"] == "likelihood"
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/json").content)["components"]["schemas"]
    for name, fields in (("DesignList", ("fitness_std",)), ("DesignDetail", ("fitness_std",)),
                         ("Verification", ("fitness_stderr", "fitness_metric")),
                         ("VerificationBrief", ("fitness_stderr", "fitness_metric"))):
        for field in fields:
            assert schema[name]["properties"][field]["readOnly"] is True, (name, field)


def test_the_openapi_schema_is_valid(client, db):
    from drf_spectacular.validation import validate_schema

    validate_schema(json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/json").content))


def test_swagger_page_loads_no_cdn_assets(client, db):
    assert b"cdn.jsdelivr.net" not in client.get("/api/docs/").content


@override_settings(GENESYS_PRIVATE=True)
def test_private_site_hides_the_api_from_anonymous_users(client, api_client_for, viewer, seeds):
    for url in ("/api/designs/", "/api/lineage/", "/api/units/", "/api/events/", "/api/schema/"):
        assert client.get(url).status_code in (401, 403), url
    assert api_client_for(viewer, token=True).get("/api/designs/").status_code == 200
