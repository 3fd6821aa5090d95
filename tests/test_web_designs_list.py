"""The designs list (/designs/), the 404 page and the favicon, through Django's test client."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evolution.demo import build_history, fake_report
from evolution.models import Design, EvolutionRun, Verification
from evolution.services.verifications import record_report

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr class="[^"]*">\s*<td><a href="/designs/([^/"]+)/">')


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return ROW.findall(response.content.decode())


def get(client, **params):
    return client.get(reverse("evolution:designs"), params)


def test_an_empty_list_says_so(client):
    response = get(client)
    page = response.content.decode()
    assert slugs(response) == []
    assert "0 designs" in page and "No designs yet" in page
    # Any page of an empty list is out of range, and says so.
    assert "There is no page 3: the list is empty." in get(client, page=3).content.decode()


def test_one_design_is_one_row_on_one_page(client, seeds):
    Design.objects.exclude(slug="gpt").delete()
    response = get(client)
    assert slugs(response) == ["gpt"]
    page = response.content.decode()
    assert "1 design<" in page and 'aria-label="Pages"' not in page  # no pager for one page


def test_the_nav_links_the_list(client, seeds):
    page = client.get("/").content.decode()
    assert f'href="{reverse("evolution:designs")}"' in page


def test_filters_narrow_the_list(client, history):
    every = set(Design.objects.real().values_list("slug", flat=True))
    assert set(slugs(get(client, per_page=100))) == every

    verified = {d.slug for d in history if d.status == "verified"}
    assert set(slugs(get(client, status="verified", per_page=100))) == verified

    seeds = {d.slug for d in history if d.origin_kind == "seed"}
    assert set(slugs(get(client, origin="seed", per_page=100))) == seeds
    crossovers = {d.slug for d in history if d.mode == "crossover"}
    assert crossovers and set(slugs(get(client, mode="crossover", per_page=100))) == crossovers

    reached = set(Verification.objects.filter(status="done", rung_index__gte=Verification.objects.filter(
        rung="14M").values_list("rung_index", flat=True)[0]).values_list("design__slug", flat=True))
    assert reached and set(slugs(get(client, rung="14M", per_page=100))) == reached
    assert set(slugs(get(client, verified="1", per_page=100))) == set(
        Verification.objects.filter(status="done").values_list("design__slug", flat=True))

    one = next(d for d in history if d.generation > 0)
    assert slugs(get(client, q=one.name.upper())) == [one.slug]  # by name, any case
    assert one.slug in slugs(get(client, q=one.slug))  # by slug
    page = get(client, q="no-such-design-anywhere").content.decode()
    assert "No design matches these filters" in page and "0 designs match" in page


def test_runs_filter_and_an_unknown_run_is_a_notice(client, history):
    run = EvolutionRun.objects.create(name="second")
    mine = [d for d in history if d.generation > 0][:3]
    Design.objects.filter(id__in=[d.id for d in mine]).update(run=run)
    assert set(slugs(get(client, run=run.id))) == {d.slug for d in mine}
    response = get(client, run="999999")
    assert "There is no run &#x27;999999&#x27;: all runs are shown." in response.content.decode()
    assert len(slugs(get(client, run="999999", per_page=100))) == Design.objects.real().count()


def test_demo_designs_are_hidden_unless_asked_for(client, seeds):
    build_history(6, seed=1, demo=True)
    demo = set(Design.objects.filter(origin_kind="demo").values_list("slug", flat=True))
    assert demo
    assert not demo & set(slugs(get(client, per_page=100)))
    assert demo <= set(slugs(get(client, demo="1", per_page=100)))


def test_sorted_by_fitness_best_first_and_unverified_last(client, history):
    rows = slugs(get(client, sort="fitness", per_page=100))
    fitness = dict(Design.objects.values_list("slug", "fitness"))
    values = [fitness[s] for s in rows]
    known = [v for v in values if v is not None]
    assert known == sorted(known, reverse=True)
    assert values == known + [None] * (len(values) - len(known))
    worst_first = [fitness[s] for s in slugs(get(client, sort="-fitness", per_page=100))]
    assert [v for v in worst_first if v is not None] == sorted(known)


def test_sorted_by_creation(client, history):
    ids = dict(Design.objects.values_list("slug", "id"))
    newest = [ids[s] for s in slugs(get(client, sort="newest", per_page=100))]
    assert newest == sorted(newest, reverse=True)
    assert [ids[s] for s in slugs(get(client, sort="oldest", per_page=100))] == sorted(newest)


def test_pages_cover_the_list_once(client, history):
    total = Design.objects.real().count()
    assert total > 10
    pages = -(-total // 10)
    seen = []
    for number in range(1, pages + 1):
        seen += slugs(get(client, per_page=10, sort="oldest", page=number))
    assert seen == list(Design.objects.real().order_by("id").values_list("slug", flat=True))
    last = get(client, per_page=10, page=pages).content.decode()
    assert 'rel="next"' not in last and 'rel="prev"' in last
    assert f"{(pages - 1) * 10 + 1}–{total} of {total}" in last


def test_a_page_past_the_end_is_clear(client, history):
    response = get(client, per_page=10, page=99, status="verified")
    page = response.content.decode()
    assert response.status_code == 200 and slugs(response) == []
    verified = Design.objects.real().filter(status="verified").count()
    pages = -(-verified // 10)
    assert f"There is no page 99: the list has {pages} page" in page
    back = re.search(r'<a href="\?([^"]*)">Go to the last page</a>', page).group(1).split("&amp;")
    assert sorted(back) == sorted(["per_page=10", "status=verified", f"page={pages}"])  # filters kept


@pytest.mark.parametrize("params", [
    {"page": "abc"}, {"page": "-1"}, {"page": "0"}, {"page": "1e9"}, {"page": str(2**70)},
    {"per_page": "7"}, {"per_page": "x"}, {"sort": "DROP TABLE"}, {"status": "nope"}, {"rung": "1T"},
    {"origin": "alien"}, {"mode": "teleport"}, {"run": "x"}, {"run": str(2**70)}, {"q": "%_\\'\""},
    {"q": "x" * 5000}, {"verified": "maybe"}, {"demo": "\x00"},
])
def test_bad_parameters_never_fail_the_page(client, seeds, params):
    response = get(client, **params)
    assert response.status_code == 200
    assert "<h1>Designs</h1>" in response.content.decode()


def test_a_bad_parameter_says_what_was_ignored(client, seeds):
    page = get(client, status="nope", page="abc", sort="sideways").content.decode()
    assert "Status &#x27;nope&#x27; is not one of" in page
    assert "Page &#x27;abc&#x27; is not a page number: showing page 1." in page
    assert "Sort &#x27;sideways&#x27; is unknown: newest first." in page
    assert len(slugs(get(client, status="nope"))) == len(seeds)  # the filter was dropped, not applied


def test_the_list_reads_in_a_fixed_number_of_queries(client, history):
    """A page of 100 rows costs the same queries as a page of 10 (no query per row)."""
    client.get("/")  # the session and other first-request work, out of the count
    with CaptureQueriesContext(connection) as few:
        rows_few = slugs(get(client, per_page=10))
    with CaptureQueriesContext(connection) as many:
        rows_many = slugs(get(client, per_page=100))
    assert len(rows_many) > len(rows_few) == 10
    assert len(many.captured_queries) == len(few.captured_queries)


def test_highest_rung_is_shown(client, seeds):
    gpt = Design.objects.get(slug="gpt")
    for rung in ("micro", "14M"):
        verification = Verification.objects.create(design=gpt, rung=rung, rung_index=rung_index_of(rung))
        record_report(verification, fake_report(rung, 0.05, random.Random(0), design_hash=gpt.tree_hash))
    page = get(client, q="gpt").content.decode()
    row = page.split('href="/designs/gpt/"')[1].split("</tr>")[0]
    assert "<td>14M</td>" in row


def rung_index_of(name: str) -> int:
    from evolution.core.ladder import rung_index

    return rung_index(name)


# ---- 404 and favicon -----------------------------------------------------------------------------------

def test_an_unknown_address_is_a_plain_404(client, seeds):
    response = client.get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Resolver404" not in page and "tried" not in page
    assert "There is nothing at <code class=\"path\">/no/such/page/</code>." in page
    assert f'href="{reverse("evolution:designs")}"' in page


def test_a_missing_design_says_which(client, seeds):
    response = client.get("/designs/no-such-design/")
    assert response.status_code == 404
    assert "No design &#x27;no-such-design&#x27;." in response.content.decode()


def test_the_favicon_is_a_static_file_linked_from_every_page(client, seeds):
    page = client.get("/").content.decode()
    assert re.search(r'<link rel="icon" href="/static/favicon\.svg"', page)
    assert finders.find("favicon.svg") and finders.find("favicon.ico")
    assert Path(finders.find("favicon.ico")).read_bytes()[:4] == b"\x00\x00\x01\x00"  # an ICO header
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.ico"
