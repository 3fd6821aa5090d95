"""The knowledge pages, API and management commands, against real stores (abstracts of the whole
library for reads; fresh stores for writes). The site's urls.py is not wired yet, so this module is its
own URLconf: the site's, plus the two includes the lead will add (if they are not there yet)."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import include, path
from rest_framework.test import APIClient
from test_knowledge_fixtures import MARKDOWN_PAPER, abstracts_store, library_dir  # noqa: F401

from genesys_site.urls import urlpatterns as site_urlpatterns
from knowledge import engine, selectors, services
from knowledge.models import Citation, IngestJob, Paper

urlpatterns = [
    *([] if any(getattr(p, "namespace", None) == "knowledge" for p in site_urlpatterns) else [
        path("knowledge/", include("knowledge.urls")),
        path("api/knowledge/", include("knowledge.api_urls")),
    ]),
    *site_urlpatterns,
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

PAPERS = ["s4", "hippo", "lssl", "s4d", "h3", "mamba"]


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GENESYS_RERANK_PROVIDER", "none")  # never call a real LLM from tests
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.GENESYS_KNOWLEDGE_INGEST_INLINE = True
    engine.forget_instances()
    yield settings
    engine.forget_instances()


@pytest.fixture()
def library_store(_settings, abstracts_store: Path) -> Path:  # noqa: F811
    """Reads go to the whole-library abstracts store, with a few papers mirrored in the database."""
    _settings.GENESYS_KNOWLEDGE_DIR = str(abstracts_store)
    services.sync_papers(PAPERS)
    return abstracts_store


@pytest.fixture()
def fresh_store(_settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kb-web")
    _settings.GENESYS_KNOWLEDGE_DIR = str(path)
    return path


@pytest.fixture()
def researcher(db) -> User:
    user = User.objects.create_user("rita", password="pw")
    user.groups.add(Group.objects.get_or_create(name="researcher")[0])
    return user


@pytest.fixture()
def viewer(db) -> User:
    return User.objects.create_user("vic", password="pw")


# ------------------------------------------------------------------------------------------------ pages


def test_search_page_lists_passages_with_citations(library_store: Path, client: Client) -> None:
    response = client.get("/knowledge/", {"q": "selective state spaces with input-dependent parameters"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Mamba: Linear-Time Sequence Modeling" in html and "read in context" in html
    assert "Albert Gu and Tri Dao (2023)" in html
    partial = client.get("/knowledge/", {"q": "rotary position embedding", "year_from": 2021, "year_to": 2021},
                         HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "RoFormer" in partial.content.decode()


def test_search_page_says_offline_for_external_search(library_store: Path, client: Client,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENESYS_OFFLINE", "1")
    html = client.get("/knowledge/", {"q": "mamba", "external": "on"}).content.decode()
    assert "Offline: offline:" in html and "Mamba" in html


def test_paper_page_shows_what_it_builds_on_and_what_builds_on_it(library_store: Path, client: Client) -> None:
    html = client.get("/knowledge/papers/s4/").content.decode()
    assert "Efficiently Modeling Long Sequences with Structured State Spaces" in html
    builds_on, built_upon_by = html.split("Builds on")[1].split("Built upon by")
    assert "HiPPO" in builds_on and "Hungry Hungry Hippos" not in builds_on
    assert "Hungry Hungry Hippos" in built_upon_by and "Initialization of Diagonal State Space" in built_upon_by
    assert "Designs citing it" in html
    assert client.get("/knowledge/papers/no-such-paper/").status_code == 404


def test_a_paper_only_in_the_store_still_has_a_page(library_store: Path, client: Client) -> None:
    assert not Paper.objects.filter(paper_id="yarn").exists()
    html = client.get("/knowledge/papers/yarn/").content.decode()
    assert "YaRN: Efficient Context Window Extension" in html and "Built upon by" in html


def test_chunk_page_reads_a_passage_in_context(library_store: Path, client: Client) -> None:
    hit = selectors.search("HiPPO polynomial projections", k=1)[0]
    html = client.get(f"/knowledge/chunks/{hit.chunk_id}/").content.decode()
    assert 'class="kn-passage current"' in html and hit.title in html
    assert client.get("/knowledge/chunks/nope:0/").status_code == 404


def test_chunk_page_survives_bad_context_parameters(library_store: Path, client: Client) -> None:
    hit = selectors.search("HiPPO polynomial projections", k=1)[0]
    for params in ({"before": "abc"}, {"after": "2.5"}, {"before": "-3"}, {"before": "99999999999999999999"},
                   {"before": "", "after": ""}):
        response = client.get(f"/knowledge/chunks/{hit.chunk_id}/", params)
        assert response.status_code == 200, params
        assert 'class="kn-passage current"' in response.content.decode()


@pytest.fixture()
def paid_reranker(library_store: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The library's engine with a reranker whose LLM edge records each (paid) call and answers a ranking."""
    from knowledge.core.rerank import LLMReranker

    calls: list[str] = []

    def complete(prompt: str) -> str:
        calls.append(prompt)
        return '{"ranking": [2, 1]}'

    engine.knowledge_base().reranker = LLMReranker(complete)
    monkeypatch.setattr(selectors, "_rerank_budget", None)
    return calls


def test_anonymous_visitors_never_spend_llm_money(paid_reranker: list[str], client: Client) -> None:
    assert client.get("/knowledge/", {"q": "selective state spaces"}).status_code == 200
    api = APIClient()
    assert api.get("/api/knowledge/search/", {"q": "state space", "k": 3}).json()["results"]
    assert len(api.post("/api/knowledge/references/", {"theme": "rotary position", "k": 3}, format="json").json()) == 3
    assert paid_reranker == []


def test_signed_in_users_rerank_within_a_budget(paid_reranker: list[str], client: Client, viewer: User,
                                                researcher: User, settings) -> None:
    settings.GENESYS_RERANK_CALLS_PER_HOUR = 2
    client.force_login(viewer)
    for _ in range(3):
        assert client.get("/knowledge/", {"q": "selective state spaces"}).status_code == 200
    assert len(paid_reranker) == 2  # the third search got the fused order, for free
    api = APIClient()
    api.force_authenticate(researcher)
    hits = api.get("/api/knowledge/search/", {"q": "state space", "k": 3}).json()["results"]
    assert len(paid_reranker) == 3 and hits[0]["ranks"].get("llm") == 1  # another user, another budget
    settings.GENESYS_RERANK_CALLS_PER_HOUR = 0
    api.get("/api/knowledge/search/", {"q": "state space", "k": 3})
    assert len(paid_reranker) == 3


def test_rerank_budget_rolls_over_with_its_window() -> None:
    from knowledge.core.rerank import RerankBudget

    now = [0.0]
    budget = RerankBudget(2, window_s=60.0, clock=lambda: now[0])
    assert [budget.spend("a"), budget.spend("a"), budget.spend("a"), budget.spend("b")] == [True, True, False, True]
    now[0] = 59.9
    assert not budget.spend("a") and budget.left("a") == 0
    now[0] = 60.0
    assert budget.left("a") == 2 and budget.spend("a")
    assert not RerankBudget(0).spend("a")


def test_papers_list_and_design_references_pages(library_store: Path, client: Client) -> None:
    html = client.get("/knowledge/papers/", {"q": "state"}).content.decode()
    assert "/knowledge/papers/s4/" in html and "/knowledge/papers/mamba/" in html
    assert client.get("/knowledge/designs/").status_code == 200


def test_upload_needs_the_researcher_role(fresh_store: Path, client: Client, viewer: User) -> None:
    response = client.get("/knowledge/upload/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(viewer)
    assert client.get("/knowledge/upload/").status_code == 403


def test_upload_ingests_the_file_and_shows_the_paper(fresh_store: Path, client: Client, researcher: User) -> None:
    client.force_login(researcher)
    upload = SimpleUploadedFile("delta.md", MARKDOWN_PAPER.encode(), content_type="text/markdown")
    response = client.post("/knowledge/upload/", {"file": upload, "authors": "Ada Lovelace", "year": 2024})
    job = IngestJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/knowledge/jobs/{job.pk}/"
    assert job.status == "done" and job.report["chunks_added"] >= 3 and job.created_by == researcher
    assert job.paper is not None and job.paper.title == "Chunked Delta Memory for Recurrent Language Models"
    assert job.paper.authors == ["Ada Lovelace"] and job.paper.added_by == researcher and job.paper.source == "upload"
    assert "Done:" in client.get(response["Location"]).content.decode()
    hit = selectors.search("associative recall accuracy", k=1)[0]
    assert hit.paper_id == job.paper.paper_id and hit.source == "upload"
    bad = client.post("/knowledge/upload/", {"file": SimpleUploadedFile("x.docx", b"PK")})
    assert bad.status_code == 200 and "Cannot read .docx" in bad.content.decode()


# -------------------------------------------------------------------------------------------------- API


def test_search_api_with_query_parameters_and_json_filters(library_store: Path) -> None:
    api = APIClient()
    data = api.get("/api/knowledge/search/", {"q": "attention with linear biases enables input length extrapolation", "k": 3}).json()
    assert data["results"][0]["paper_id"] == "alibi" and len(data["results"]) == 3
    assert {"chunk_id", "text", "score", "citation", "authors", "year", "section", "ranks"} <= set(data["results"][0])
    posted = api.post("/api/knowledge/search/", {"q": "state space", "k": 5, "method": "bm25",
                                                 "filters": {"year": {"$gte": 2024}}}, format="json").json()
    assert posted["method"] == "bm25" and all(r["year"] >= 2024 for r in posted["results"])
    assert api.post("/api/knowledge/search/", {"q": "x", "filters": {"year": {"$like": 1}}}, format="json").status_code == 400
    assert api.get("/api/knowledge/search/").status_code == 400


def test_papers_chunks_and_references_api(library_store: Path) -> None:
    api = APIClient()
    listing = api.get("/api/knowledge/papers/").json()
    assert listing["count"] == len(PAPERS)
    detail = api.get("/api/knowledge/papers/s4/").json()
    assert detail["paper"]["builds_on"] == ["hippo"] and "h3" in detail["built_upon_by"]
    hit = api.get("/api/knowledge/search/", {"q": "HiPPO", "k": 1}).json()["results"][0]
    chunk = api.get(f"/api/knowledge/chunks/{hit['chunk_id']}/").json()
    assert chunk["chunk"]["chunk_id"] == hit["chunk_id"] and chunk["context"]
    refs = api.post("/api/knowledge/references/", {"theme": "rotary position interpolation", "k": 3}, format="json").json()
    assert len(refs) == 3 and len({r["paper_id"] for r in refs}) == 3


def test_ingest_api_permissions_and_job(fresh_store: Path, researcher: User, viewer: User) -> None:
    api = APIClient()
    payload = {"file": SimpleUploadedFile("delta.md", MARKDOWN_PAPER.encode()), "paper_id": "delta-memory"}
    assert api.post("/api/knowledge/ingest/", payload, format="multipart").status_code in {401, 403}
    api.force_authenticate(viewer)
    payload["file"] = SimpleUploadedFile("delta.md", MARKDOWN_PAPER.encode())
    assert api.post("/api/knowledge/ingest/", payload, format="multipart").status_code == 403
    api.force_authenticate(researcher)
    payload["file"] = SimpleUploadedFile("delta.md", MARKDOWN_PAPER.encode())
    response = api.post("/api/knowledge/ingest/", payload, format="multipart")
    assert response.status_code == 202 and response.json()["status"] == "done"
    assert response.json()["paper_id"] == "delta-memory"
    job = api.get(f"/api/knowledge/jobs/{response.json()['id']}/").json()
    assert job["percent"] == 100 and job["report"]["chunks_added"] >= 3
    payload["file"] = SimpleUploadedFile("delta.md", MARKDOWN_PAPER.encode())
    again = api.post("/api/knowledge/ingest/", payload, format="multipart").json()
    assert again["report"]["chunks_added"] == 0 and again["report"]["skipped"], "the same content is not re-ingested"


def test_external_api_answers_offline_at_once(library_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENESYS_OFFLINE", "1")
    response = APIClient().get("/api/knowledge/external/", {"q": "mamba"})
    assert response.status_code == 503 and response.json()["error"] == "offline"
    assert "offline" in response.json()["detail"]


def test_api_schema_describes_the_endpoints() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(patterns=[path("api/knowledge/", include("knowledge.api_urls"))]).get_schema(public=True)
    assert {"/api/knowledge/search/", "/api/knowledge/ingest/", "/api/knowledge/external/"} <= set(schema["paths"])


# ------------------------------------------------------------------------------------ commands, designs


def test_management_commands_import_and_ingest(fresh_store: Path, library_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    out = io.StringIO()
    call_command("import_library", str(library_dir), papers="s4,hippo,s4d", abstracts_only=True, stdout=out)
    assert "3 papers: 3 document(s) written" in out.getvalue() and "3/3 passages embedded" in out.getvalue()
    assert set(Paper.objects.values_list("paper_id", flat=True)) == {"s4", "hippo", "s4d"}
    assert {(c.citing.paper_id, c.cited.paper_id) for c in Citation.objects.all()} == {("s4", "hippo"), ("s4d", "s4")}
    out = io.StringIO()
    call_command("import_library", str(library_dir), papers="s4,hippo,s4d", abstracts_only=True, stdout=out)
    assert "0 document(s) written" in out.getvalue() and "3 unchanged" in out.getvalue()

    (tmp_path / "notes.md").write_text(MARKDOWN_PAPER)
    out = io.StringIO()
    call_command("ingest", str(tmp_path / "notes.md"), paper_id="notes", year=2024, stdout=out)
    assert "1 document(s) ingested" in out.getvalue()
    assert Paper.objects.get(paper_id="notes").year == 2024


def test_design_references_are_read_from_proposals() -> None:
    design = SimpleNamespace(proposal={"references": [{"paper_id": "s4", "title": "S4"}, "mamba", {"x": 1}]})
    assert [r["paper_id"] for r in selectors.references_of(design)] == ["s4", "mamba"]
    assert selectors.references_of(SimpleNamespace(proposal=None)) == []
    assert isinstance(selectors.designs_citing("s4"), list), "works whether or not the evolution app has designs"


def test_paper_page_lists_the_designs_whose_proposal_cites_it(library_store: Path, client: Client) -> None:
    from django.apps import apps

    try:
        design_model = apps.get_model("evolution", "Design")
    except LookupError:
        pytest.skip("the evolution app has no Design model yet")
    design_model.objects.create(name="delta-ssm", slug="delta-ssm", origin_kind="llm",
                                proposal={"title": "Delta SSM", "references": [{"paper_id": "s4", "title": "S4"}]})
    design_model.objects.create(name="plain-gpt", slug="plain-gpt", origin_kind="llm", proposal={"references": []})
    html = client.get("/knowledge/papers/s4/").content.decode()
    designs = html.split("Designs citing it")[1]
    assert "delta-ssm" in designs and "plain-gpt" not in designs
    rows = client.get("/knowledge/designs/").content.decode()
    assert "delta-ssm" in rows and "/knowledge/papers/s4/" in rows and "plain-gpt" not in rows
