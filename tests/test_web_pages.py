"""Every page through Django's test client: what it shows, and who may see it."""

from __future__ import annotations

import json
import re

import pytest
from django.test import override_settings
from django.urls import reverse

from evolution.models import Design, Unit

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.django_db


def graph_of(response) -> dict:
    match = re.search(r'<script id="graph-data" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    return json.loads(match.group(1))


def test_tree_page_embeds_the_whole_lineage_with_a_layout(client, history):
    response = client.get("/")
    assert response.status_code == 200
    graph = graph_of(response)
    assert graph["count"] == len(history) == len(graph["nodes"]["id"])
    assert set(graph["nodes"]) >= {"x", "generation", "fitness", "status", "confidence", "slug"}
    n_links = sum(d.parents.count() for d in history)
    assert len(graph["edges"]) == 2 * n_links
    for parent_index, child_index in zip(graph["edges"][::2], graph["edges"][1::2], strict=True):
        assert graph["nodes"]["generation"][parent_index] < graph["nodes"]["generation"][child_index]
    assert b"/assets/plotly-" in response.content and b"cdn" not in response.content.lower()


def test_tree_search_by_name_unit_and_status(client, history):
    designed = next(d for d in history if d.generation > 0 and d.tree)
    response = client.get(reverse("evolution:tree-results"), {"q": designed.name})
    assert designed.name in response.content.decode()
    ids = response.content.decode().split('data-ids="')[1].split('"')[0].split(",")
    assert str(designed.id) in ids
    by_unit = client.get(reverse("evolution:tree-results"), {"q": "RotaryPositionalEmbeddings"})
    assert "gpt" in by_unit.content.decode()
    by_status = client.get(reverse("evolution:tree-results"), {"status": "verified"})
    verified = Design.objects.filter(status="verified").count()
    assert f"{verified} match" in by_status.content.decode()
    assert by_status["HX-Replace-Url"].startswith("/?status=verified")


def test_tree_graph_json_marks_filter_matches(client, history):
    data = client.get(reverse("evolution:tree-graph"), {"seeds": "1"}).json()
    assert sorted(data["matches"]) == sorted(d.id for d in history if d.is_seed)


def test_design_page_shows_every_section(client, verified):
    response = client.get(verified.get_absolute_url())
    page = response.content.decode()
    assert response.status_code == 200
    for section in ("summary", "units", "proposal", "trace", "checker", "verification", "annotations", "decisions"):
        assert f'id="{section}"' in page
    assert verified.proposal["title"] in page
    assert "Round 1" in page and "observer rating" in page
    assert 'class="diagram"' in page and 'class="code"' in page
    assert '<span class="k">class</span>' in page  # Pygments highlighting
    assert '"curves": [{"rung": "14M"' in page  # loss curve data for Plotly
    for parent in verified.parents.all():
        assert parent.get_absolute_url() in page
    assert "Log in</a> as a researcher" in page  # anonymous: no buttons
    assert "Promote to" not in page


def test_design_page_buttons_for_researchers_show_cost_and_budget(client_for, researcher, checked):
    page = client_for(researcher).get(checked.get_absolute_url()).content.decode()
    assert "Promote to" in page and "budget left at" in page and "GPU" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "Approve" in page and "Veto" in page and "Use as a parent" in page and "Annotate" in page


def test_viewer_sees_no_action_buttons(client_for, viewer, checked):
    page = client_for(viewer).get(checked.get_absolute_url()).content.decode()
    assert "Promote to" not in page and 'id="annotate-form"' not in page
    assert "can read but not decide" in page


def test_diff_page_against_parent(client, history):
    child = next(d for d in history if d.mode == "mutation" and d.tree)
    parent = child.parents.first()
    page = client.get(reverse("evolution:diff", args=[child.slug])).content.decode()
    assert f"vs <a href=\"{parent.get_absolute_url()}\">{parent.name}</a>" in page
    assert "1 changed" in page and 'class="sbs"' in page and 'class="diagram"' in page
    assert 'tr class="replace"' in page or 'tr class="insert"' in page


def test_diff_page_of_a_seed_offers_a_comparison(client, history):
    gpt = Design.objects.get(name="gpt")
    assert "Nothing to compare" in client.get(reverse("evolution:diff", args=[gpt.slug])).content.decode()
    page = client.get(reverse("evolution:diff", args=[gpt.slug]), {"against": "mamba2"}).content.decode()
    assert "added" in page and "removed" in page and "mamba2" in page


def test_leaderboard_ranks_by_fitness_with_seeds_as_baselines(client, history):
    page = client.get(reverse("evolution:leaderboard"), {"rung": "14M"}).content.decode()
    table = page.split('<table class="data leaderboard">')[1].split("</table>")[0]
    fitness = [float(f) for f in re.findall(r'<td class="num"><b>([-0-9.]+)</b>', table)]
    done = Design.objects.filter(verifications__rung="14M", verifications__status="done")
    assert len(fitness) == done.count() and fitness == sorted(fitness, reverse=True)
    # Every fitness carries its interval and the metric it was computed with.
    assert len(re.findall(r'</b> <span class="faint small">± [0-9.]+</span><br><span class="faint small">accuracy</span>',
                          table)) == done.count()
    assert table.count('<span class="badge seed">baseline</span>') == done.filter(is_seed=True).count()
    assert "Δ best seed" in page
    designed = done.exclude(is_seed=True).order_by("-fitness").first()
    filtered = client.get(reverse("evolution:leaderboard"), {"rung": "14M", "origin": "seed"}).content.decode()
    assert designed.name not in filtered and "gpt</a>" in filtered  # seeds stay as baselines


def test_unit_browser_lists_units_with_their_designs(client, history):
    page = client.get(reverse("evolution:units"), {"q": "RMSNorm"}).content.decode()
    assert "RMSNorm" in page and "MHA</a>" not in page
    unit = Unit.objects.filter(name="MHA").order_by("id").first()
    detail = client.get(reverse("evolution:unit", args=[unit.content_hash])).content.decode()
    for design in Design.objects.filter(unit_links__unit=unit):
        assert design.name in detail


def test_downloads_are_the_composed_code_and_the_design_json(client, seeds):
    gpt = seeds[0]
    code = client.get(reverse("evolution:design-code", args=[gpt.slug]))
    assert code.content.decode() == gpt.composed_code
    data = json.loads(client.get(reverse("evolution:design-json", args=[gpt.slug])).content)
    assert data == gpt.tree
    composed = client.get(reverse("evolution:design-composed", args=[gpt.slug])).content.decode()
    assert '<span class="nc">GAB</span>' in composed and composed.startswith('<div class="code">')


def test_plotly_is_served_locally_and_cached(client):
    response = client.get(reverse("evolution:plotly", args=["x"]), HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"]
    again = client.get(reverse("evolution:plotly", args=["x"]), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_unknown_design_is_a_404(client, db):
    assert client.get("/designs/no-such-design/").status_code == 404


@override_settings(GENESYS_PRIVATE=True)
def test_private_site_shows_anonymous_users_only_the_login(client, client_for, viewer, seeds):
    for url in ("/", f"/designs/{seeds[0].slug}/", "/leaderboard/", "/units/", f"/designs/{seeds[0].slug}/diff/",
                "/tree/graph.json"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    login = client.get("/accounts/login/")
    assert login.status_code == 200 and b"Evolution tree</a>" not in login.content
    assert client_for(viewer).get("/").status_code == 200


def test_seed_page_needs_a_researcher(client, client_for, viewer, researcher):
    assert client.get(reverse("evolution:seed"))["Location"].startswith("/accounts/login/")
    assert client_for(viewer).get(reverse("evolution:seed")).status_code == 403
    page = client_for(researcher).get(reverse("evolution:seed"))
    assert page.status_code == 200 and b'enctype="multipart/form-data"' in page.content


def test_admin_lists_every_model(client_for, admin_user):
    client = client_for(admin_user)
    for model in ("design", "designparent", "unit", "designunit", "checkrun", "upload", "verification",
                  "evolutionrun", "designrequest", "job", "annotation", "decision", "event"):
        assert client.get(f"/admin/evolution/{model}/").status_code == 200, model


def test_failed_designer_run_has_a_readable_page(client, seeds):
    from designer.core.result import Cost, DesignerResult
    from evolution.services.designs import create_design_from_result

    result = DesignerResult(mode="mutation", parents=["gpt"], origin={"kind": "llm", "models": {"coder": "o3"}},
                            status="failed", name="BrokenIdea", failure="ran out of implementation attempts",
                            proposal={"title": "A broken idea"}, cost=Cost(tokens_in=10_000, dollars=0.5),
                            trace=[{"unit": "MHA", "attempt": 3, "passed": False, "rating": 2,
                                    "findings": [{"category": "shape", "severity": "error", "message": "bad shape"}]}])
    design = create_design_from_result(result, [])
    page = client.get(design.get_absolute_url()).content.decode()
    assert "ran out of implementation attempts" in page and "No GAU tree." in page
    assert "bad shape" in page and "only checked designs are promoted" not in page  # no buttons for anonymous
    diff = client.get(reverse("evolution:diff", args=[design.slug])).content.decode()
    assert "has no GAU tree to compare" in diff


def test_pages_render_on_an_empty_database(client, db):
    for url in ("/", "/leaderboard/", "/units/", "/tree/results/?q=x", "/api/lineage/"):
        assert client.get(url).status_code == 200, url
    assert "0 designs" in client.get("/").content.decode()


# ---- what a researcher needs to judge a result ------------------------------------------------------

def test_verification_reads_scores_against_chance_with_their_noise_and_what_was_trained(client, verified):
    page = client.get(verified.get_absolute_url()).content.decode()
    table = page.split('id="task-table"')[1].split("</table>")[0]
    assert "Chance" in table and "piqa" in table and "0.50" in table  # piqa's chance accuracy
    assert " ± " in table and "(n=" in table and "vs chance" in table
    assert "What was trained at 14M" in page and "tokens/s" not in page.split("What was trained")[0]
    assert "Val loss" in page and "Val ppl" in page and ">Mean score<" not in page
    charts = json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page,
                                  re.S).group(1))
    scores = charts["scores"][0]
    assert scores["stderr"]["piqa"] > 0 and scores["chance"]["piqa"] == 0.5
    assert charts["curves"][0]["curves"]["train"]["tokens"][-1] > 0  # loss against training tokens


def test_design_page_draws_the_parents_curves_at_the_same_rung(client, history):
    from evolution.models import Verification

    child = next(d for d in history if d.generation > 0 and d.verifications.filter(status="done").exists()
                 and Verification.objects.filter(design__in=d.parents.all(), rung="14M", status="done").exists())
    page = client.get(child.get_absolute_url()).content.decode()
    charts = json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page,
                                  re.S).group(1))
    names = {c["name"] for c in charts["parent_curves"]}
    assert names and names <= {p.name for p in child.parents.all()}
    assert all(c["rung"] == "14M" and c["train"]["y"] for c in charts["parent_curves"])


def test_design_page_shows_params_and_no_llm_cost_for_a_seed(client, history):
    gpt = Design.objects.get(name="gpt")
    page = client.get(gpt.get_absolute_url()).content.decode()
    stats = page.split('id="design-stats"')[1].split("</div>\n</div>")[0]
    assert "Params (non-emb.)" in stats and "at 14M" in stats
    assert "none (seed)" in stats and "LLM cost" not in stats and "Verification time" in stats


def test_design_page_links_the_papers_its_proposal_drew_on(client, verified):
    from knowledge.models import Paper

    Paper.objects.create(paper_id="mamba2", title="Transformers are SSMs")
    Design.objects.filter(pk=verified.pk).update(references=[{"paper_id": "mamba2", "title": ""},
                                                             {"paper_id": "not-in-library", "title": "Some paper"}])
    page = client.get(verified.get_absolute_url()).content.decode()
    refs = page.split('id="references"')[1].split("</td>")[0]
    assert f'href="{reverse("knowledge:paper", args=["mamba2"])}">Transformers are SSMs</a>' in refs
    assert 'title="not in the library">Some paper' in refs


def test_checker_figures_have_units_and_a_gpt_comparison(client, seeds):
    from evolution.services.checks import store_check

    gpt = seeds[0]
    store_check({"passed": True, "findings": [], "figures": {
        "params_non_embedding": 500000, "flops_per_step": 1610612736, "memory_bytes": 23363556,
        "reference": {"params_non_embedding": 426624, "flops_per_step": 1610612736, "memory_bytes": 23363556},
        "params_non_embedding_ratio": 1.172, "flops_per_step_ratio": 1.0, "memory_bytes_ratio": 1.0,
    }}, design=gpt)
    page = client.get(gpt.get_absolute_url()).content.decode()
    ref = page.split('id="vs-reference"')[1].split("</table>")[0]
    assert "non-embedding parameters" in ref and "500k" in ref and "427k" in ref and "×1.17" in ref
    assert "1.61 GFLOP" in page and "22.3 MiB" in page and "1610612736</td>" not in page


def test_diff_page_compares_the_results_and_takes_a_designs_name(client, history):
    from evolution.models import Verification
    from evolution.templatetags.evolution_tags import signed

    child = next(d for d in history if d.generation > 0 and d.verifications.filter(status="done").exists()
                 and Verification.objects.filter(design__in=d.parents.all(), status="done").exists())
    parent = next(p for p in child.parents.all() if p.verifications.filter(status="done").exists())
    page = client.get(reverse("evolution:diff", args=[child.slug])).content.decode()
    results = page.split(f'id="results-{parent.slug}"')[1].split("</table>")[0]
    change = child.verifications.get(rung="14M").fitness - parent.verifications.get(rung="14M").fitness
    assert f"{parent.verifications.get(rung='14M').fitness:.3f}" in results and signed(change) in results
    # The name as the pages show it (any case), not only the slug.
    other = next(d for d in history if d.is_seed and d not in child.parents.all())
    by_name = client.get(reverse("evolution:diff", args=[child.slug]), {"against": other.name.upper()})
    assert by_name.status_code == 200 and f'id="vs-{other.slug}"' in by_name.content.decode()
    missing = client.get(reverse("evolution:diff", args=[child.slug]), {"against": "NoSuchDesign"})
    assert missing.status_code == 200 and "No design named &#x27;NoSuchDesign&#x27;" in missing.content.decode()
    assert 'id="design-list"' in page and f'<option value="{parent.name}">' in page


def test_leaderboard_shows_chance_per_task_and_params(client, history):
    page = client.get(reverse("evolution:leaderboard"), {"rung": "14M"}).content.decode()
    head = page.split("<thead>")[1].split("</thead>")[0]
    assert "piqa<br><span class=\"faint small\">chance 0.50</span>" in head and ">Params<" in head
    assert ">Val loss<" in head


def test_running_verification_without_progress_says_so(client, checked):
    from evolution.models import Verification

    Verification.objects.create(design=checked, rung="14M", rung_index=2, status="running")
    page = client.get(checked.get_absolute_url()).content.decode()
    assert "no progress reported yet" in page and "– ago" not in page


def test_a_failed_run_keeps_its_curve_marked_with_the_reason(client, verified):
    import random

    from evolution.demo import fake_report
    from evolution.models import Verification

    report = {**fake_report("31M", 0.0, random.Random(3)), "status": "failed",
              "error": "loss_spike: the loss rose far above its running minimum at step 400"}
    Verification.objects.update_or_create(design=verified, rung="31M", defaults={
        "rung_index": 3, "status": "failed", "report": report, "error": report["error"]})
    page = client.get(verified.get_absolute_url()).content.decode()
    charts = json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page,
                                  re.S).group(1))
    failed = [c for c in charts["curves"] if c["rung"] == "31M"]
    assert failed and failed[0]["status"] == "failed" and failed[0]["failure"].startswith("loss_spike")
    assert all(c["status"] == "done" for c in charts["curves"] if c["rung"] != "31M")
