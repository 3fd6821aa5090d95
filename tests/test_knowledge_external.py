"""External search: one interface over arXiv and Semantic Scholar; without a network an immediate,
clear "offline" error. Responses are parsed from the services' real formats served at the HTTP edge."""

from __future__ import annotations

import time

import httpx
import pytest

from knowledge.core.external import (
    ArxivSearch,
    CombinedSearch,
    ExternalSearchError,
    OfflineError,
    SemanticScholarSearch,
    external_search,
    forget_network_state,
)

ARXIV_ATOM = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>ArXiv Query: search_query=all:mamba</title>
  <entry>
    <id>http://arxiv.org/abs/2312.00752v2</id>
    <published>2023-12-01T18:01:34Z</published>
    <title>Mamba: Linear-Time Sequence Modeling with
      Selective State Spaces</title>
    <summary>  Foundation models, now powering most of the exciting applications in deep learning,
      are almost universally based on the Transformer architecture.</summary>
    <author><name>Albert Gu</name></author>
    <author><name>Tri Dao</name></author>
  </entry>
</feed>"""

S2_JSON = {
    "total": 1, "offset": 0,
    "data": [{
        "paperId": "7bbc7595196a0606a07506c4fb1473e5e87f6082",
        "title": "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
        "authors": [{"authorId": "1", "name": "Albert Gu"}, {"authorId": "2", "name": "Tri Dao"}],
        "year": 2023, "abstract": "Foundation models ...", "venue": "arXiv.org",
        "url": "https://www.semanticscholar.org/paper/7bbc7595", "externalIds": {"ArXiv": "2312.00752"},
    }],
}


@pytest.fixture(autouse=True)
def _fresh_network_state():
    forget_network_state()
    yield
    forget_network_state()


def test_forced_offline_answers_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENESYS_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(OfflineError, match="^offline: ") as raised:
        external_search("all").search("state space models")
    assert time.monotonic() - started < 0.5
    assert "arxiv" in str(raised.value) and "semantic_scholar" in str(raised.value)


def test_an_unresolvable_host_is_offline_at_once() -> None:
    # .invalid never resolves (RFC 2606), with or without a network: the DNS failure path.
    search = ArxivSearch(url="https://export.arxiv.invalid/api/query")
    started = time.monotonic()
    with pytest.raises(OfflineError, match="offline: arxiv is unreachable"):
        search.search("mamba")
    assert time.monotonic() - started < 3


def test_a_silent_network_is_offline_within_the_probe_deadline() -> None:
    # A blackholed address (TEST-NET-1, RFC 5737): packets go nowhere, the probe deadline answers.
    search = SemanticScholarSearch(url="http://192.0.2.1:81/graph/v1/paper/search", probe_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(OfflineError):
        search.search("mamba")
    assert time.monotonic() - started < 1.5
    started = time.monotonic()
    with pytest.raises(OfflineError):
        search.search("mamba again")
    assert time.monotonic() - started < 0.1, "the verdict is remembered"


def _client(handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_arxiv_results_are_parsed_from_atom() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=ARXIV_ATOM)

    (paper,) = ArxivSearch(client=_client(handler)).search("mamba", limit=3)
    assert seen[0].url.params["search_query"] == "all:mamba" and seen[0].url.params["max_results"] == "3"
    assert paper.title == "Mamba: Linear-Time Sequence Modeling with Selective State Spaces"
    assert paper.authors == ("Albert Gu", "Tri Dao") and paper.year == 2023
    assert paper.arxiv_id == "2312.00752" and paper.source == "arxiv"
    assert paper.abstract.startswith("Foundation models, now powering")


def test_semantic_scholar_results_are_parsed_from_json() -> None:
    (paper,) = SemanticScholarSearch(client=_client(lambda r: httpx.Response(200, json=S2_JSON))).search("mamba")
    assert paper.s2id.startswith("7bbc7595") and paper.arxiv_id == "2312.00752"
    assert paper.to_dict()["authors"] == ["Albert Gu", "Tri Dao"]


def test_service_errors_are_reported_not_hidden() -> None:
    limited = SemanticScholarSearch(client=_client(lambda r: httpx.Response(429, json={"message": "slow down"})))
    with pytest.raises(ExternalSearchError, match="HTTP 429") as raised:
        limited.search("mamba")
    assert not isinstance(raised.value, OfflineError)
    with pytest.raises(ExternalSearchError, match="unreadable XML"):
        ArxivSearch(client=_client(lambda r: httpx.Response(200, text="<html>"))).search("mamba")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(OfflineError):
        ArxivSearch(client=_client(refuse)).search("mamba")


def test_combined_search_answers_when_one_service_does() -> None:
    arxiv = ArxivSearch(client=_client(lambda r: httpx.Response(200, text=ARXIV_ATOM)))
    offline = SemanticScholarSearch(url="https://api.semanticscholar.invalid/graph/v1/paper/search")
    papers = CombinedSearch([arxiv, offline]).search("mamba")
    assert [p.source for p in papers] == ["arxiv"]
    with pytest.raises(ValueError, match="unknown external source"):
        external_search("google")
