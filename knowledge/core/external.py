"""External paper search (arXiv, Semantic Scholar) behind one interface, and only when the network allows.

Before any request we check, with a short deadline, that the service's host resolves and accepts a TCP
connection; without a network that fails at once and we raise `OfflineError`, so a researcher (or the
proposer) gets a clear "offline" answer instead of a hang. GENESYS_OFFLINE=1 forces offline mode. The
check's result is remembered for a minute so that repeated searches do not probe again.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

import httpx

PROBE_TIMEOUT_S = 1.5
REQUEST_TIMEOUT_S = 10.0
PROBE_CACHE_S = 60.0

ARXIV_URL = "https://export.arxiv.org/api/query"
S2_URL = "https://api.semanticscholar.org/graph/v1/paper/search"
_ATOM = "{http://www.w3.org/2005/Atom}"


class ExternalSearchError(RuntimeError):
    """The service answered with an error, or with something we could not read."""


class OfflineError(ExternalSearchError):
    """No network path to the service; raised at once, before any request is sent."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"offline: {service} is unreachable ({reason}); external search needs a network")
        self.service = service
        self.reason = reason


@dataclass(frozen=True)
class ExternalPaper:
    title: str
    authors: tuple[str, ...]
    year: int | None
    abstract: str
    url: str
    source: str  # "arxiv" | "semantic_scholar"
    arxiv_id: str = ""
    s2id: str = ""
    venue: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["authors"] = list(self.authors)
        return data


class ExternalSearch(Protocol):
    name: str

    def search(self, query: str, limit: int = 10) -> list[ExternalPaper]: ...


# ---------------------------------------------------------------------------------------- network check

_probe_cache: dict[tuple[str, int], tuple[float, str | None]] = {}
_probe_lock = threading.Lock()


def _probe(host: str, port: int, timeout: float) -> str | None:
    """None when a TCP connection to host:port opens within `timeout`, else why not."""
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as error:
            outcome.append(f"{type(error).__name__}: {error}")

    # DNS lookups ignore socket timeouts; a daemon thread bounds the whole attempt.
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:.1f}s"


def ensure_online(url: str, service: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise OfflineError unless `url`'s host is reachable (cached for PROBE_CACHE_S)."""
    if os.environ.get("GENESYS_OFFLINE", "").strip().lower() in {"1", "true", "yes"}:
        raise OfflineError(service, "GENESYS_OFFLINE is set")
    parsed = urlparse(url)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    key = (host, port)
    now = time.monotonic()
    with _probe_lock:
        cached = _probe_cache.get(key)
    if cached is not None and now - cached[0] < PROBE_CACHE_S:
        reason = cached[1]
    else:
        reason = _probe(host, port, timeout)
        with _probe_lock:
            _probe_cache[key] = (now, reason)
    if reason is not None:
        raise OfflineError(service, reason)


def forget_network_state() -> None:
    with _probe_lock:
        _probe_cache.clear()


# -------------------------------------------------------------------------------------------- services


class _HttpSearch:
    name = "external"
    url = ""

    def __init__(self, client: httpx.Client | None = None, url: str | None = None,
                 probe_timeout: float = PROBE_TIMEOUT_S) -> None:
        self.url = url or self.url
        self.client = client
        self.probe_timeout = probe_timeout

    def _get(self, params: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        if self.client is None:  # a caller-given client (tests, proxies) decides its own reachability
            ensure_online(self.url, self.name, self.probe_timeout)
        client = self.client or httpx.Client(timeout=REQUEST_TIMEOUT_S, follow_redirects=True)
        try:
            response = client.get(self.url, params=params, headers=headers or {})
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise OfflineError(self.name, str(error) or type(error).__name__) from error
        except httpx.HTTPError as error:
            raise ExternalSearchError(f"{self.name}: {type(error).__name__}: {error}") from error
        finally:
            if self.client is None:
                client.close()
        if response.status_code >= 400:
            raise ExternalSearchError(f"{self.name} answered HTTP {response.status_code}")
        return response


class ArxivSearch(_HttpSearch):
    name = "arxiv"
    url = ARXIV_URL

    def search(self, query: str, limit: int = 10) -> list[ExternalPaper]:
        response = self._get({"search_query": f"all:{query}", "start": 0, "max_results": limit})
        return parse_arxiv(response.text)


class SemanticScholarSearch(_HttpSearch):
    name = "semantic_scholar"
    url = S2_URL

    def search(self, query: str, limit: int = 10) -> list[ExternalPaper]:
        headers = {}
        key = os.environ.get("SEMANTIC_SCHOLAR_API_KEY")
        if key:
            headers["x-api-key"] = key
        response = self._get(
            {"query": query, "limit": limit, "fields": "title,authors,year,abstract,url,externalIds,venue"},
            headers,
        )
        try:
            return parse_semantic_scholar(response.json())
        except ValueError as error:
            raise ExternalSearchError(f"semantic_scholar sent unreadable JSON: {error}") from error


class CombinedSearch:
    """Several services as one: results of each, in turn; offline only when every service is."""

    name = "combined"

    def __init__(self, services: list[ExternalSearch] | None = None) -> None:
        self.services: list[ExternalSearch] = services or [ArxivSearch(), SemanticScholarSearch()]

    def search(self, query: str, limit: int = 10) -> list[ExternalPaper]:
        results: list[ExternalPaper] = []
        errors: list[ExternalSearchError] = []
        for service in self.services:
            try:
                results.extend(service.search(query, limit))
            except ExternalSearchError as error:
                errors.append(error)
        if errors and not results:
            if all(isinstance(e, OfflineError) for e in errors):
                raise OfflineError(", ".join(s.name for s in self.services), "; ".join(
                    e.reason for e in errors if isinstance(e, OfflineError)))
            raise ExternalSearchError("; ".join(str(e) for e in errors))
        return results


def external_search(source: str = "all") -> ExternalSearch:
    """The service for `source`: "arxiv", "semantic_scholar" or "all"."""
    if source == "arxiv":
        return ArxivSearch()
    if source in {"semantic_scholar", "s2"}:
        return SemanticScholarSearch()
    if source == "all":
        return CombinedSearch()
    raise ValueError(f"unknown external source {source!r} (arxiv, semantic_scholar, all)")


# --------------------------------------------------------------------------------------------- parsing


def parse_arxiv(atom: str) -> list[ExternalPaper]:
    try:
        root = ET.fromstring(atom)
    except ET.ParseError as error:
        raise ExternalSearchError(f"arxiv sent unreadable XML: {error}") from error
    papers = []
    for entry in root.findall(f"{_ATOM}entry"):
        link = (entry.findtext(f"{_ATOM}id") or "").strip()
        arxiv_id = link.rsplit("/abs/", 1)[-1] if "/abs/" in link else ""
        published = (entry.findtext(f"{_ATOM}published") or "")[:4]
        papers.append(ExternalPaper(
            title=" ".join((entry.findtext(f"{_ATOM}title") or "").split()),
            authors=tuple((a.findtext(f"{_ATOM}name") or "").strip() for a in entry.findall(f"{_ATOM}author")),
            year=int(published) if published.isdigit() else None,
            abstract=" ".join((entry.findtext(f"{_ATOM}summary") or "").split()),
            url=link,
            source="arxiv",
            arxiv_id=re.sub(r"v\d+$", "", arxiv_id),
        ))
    return papers


def parse_semantic_scholar(payload: dict[str, Any]) -> list[ExternalPaper]:
    papers = []
    for item in payload.get("data") or []:
        external = item.get("externalIds") or {}
        papers.append(ExternalPaper(
            title=str(item.get("title") or "").strip(),
            authors=tuple(str(a.get("name", "")) for a in item.get("authors") or []),
            year=item.get("year"),
            abstract=str(item.get("abstract") or ""),
            url=str(item.get("url") or ""),
            source="semantic_scholar",
            arxiv_id=str(external.get("ArXiv") or ""),
            s2id=str(item.get("paperId") or ""),
            venue=str(item.get("venue") or ""),
        ))
    return papers
