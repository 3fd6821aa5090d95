"""Importer for the Genesys reference-library layout.

    <root>/papers/<acronym>.json    metadata, abstract, tldr, seed_ids (papers inside the library it builds on)
    <root>/fulltext/<acronym>.json  {"<acronym>-<i>": "<markdown chunk>"}

Each paper becomes a catalog entry (its acronym is the paper id, its seed_ids the citation links) and up
to two documents: the abstract (title, abstract and TL;DR as one chunk) and the full text, re-chunked by
our chunker (the source chunks range from a few characters to 50,000, and the embedding model reads ~1,000).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chunking import Chunk, chunk_markdown
from .documents import Document, content_hash
from .records import PaperRecord

SOURCE = "library"
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([0-9]{4}\.[0-9]{4,5})")


class LibraryLayoutError(ValueError):
    """The directory does not look like a reference library; the message says what is missing."""


@dataclass(frozen=True)
class LibraryPaper:
    record: PaperRecord
    raw: dict[str, Any]
    fulltext_path: Path | None


def check_layout(root: str | Path) -> Path:
    root = Path(root)
    if not (root / "papers").is_dir():
        raise LibraryLayoutError(f"{root}: expected a papers/ directory with one <acronym>.json per paper")
    return root


def paper_record(raw: dict[str, Any]) -> PaperRecord:
    url = str(raw.get("url") or "")
    match = _ARXIV_URL.search(url)
    return PaperRecord(
        paper_id=str(raw["acronym"]),
        title=str(raw.get("title") or raw["acronym"]).strip(),
        authors=tuple(str(a) for a in raw.get("authors") or ()),
        year=int(raw["year"]) if raw.get("year") else None,
        venue=str(raw.get("venue") or ""),
        url=url,
        arxiv_id=match.group(1) if match else "",
        s2id=str(raw.get("s2id") or ""),
        abstract=str(raw.get("abstract") or "").strip(),
        tldr=str(raw.get("tldr") or "").strip() if str(raw.get("tldr") or "").strip() != "N/A" else "",
        source=SOURCE,
        cites=tuple(str(s) for s in raw.get("seed_ids") or ()),
        citation_count=raw.get("citationCount"),
    )


def list_papers(root: str | Path, paper_ids: Iterable[str] | None = None) -> list[LibraryPaper]:
    """The library's papers (all, or those named), sorted by id; unknown names raise."""
    root = check_layout(root)
    wanted = None if paper_ids is None else list(dict.fromkeys(paper_ids))
    paths = sorted((root / "papers").glob("*.json"))
    if wanted is not None:
        by_id = {p.stem: p for p in paths}
        missing = [w for w in wanted if w not in by_id]
        if missing:
            raise LibraryLayoutError(f"not in the library: {', '.join(missing)}")
        paths = [by_id[w] for w in wanted]
    papers = []
    for path in paths:
        raw = json.loads(path.read_text())
        raw.setdefault("acronym", path.stem)
        fulltext = root / "fulltext" / f"{path.stem}.json"
        papers.append(LibraryPaper(paper_record(raw), raw, fulltext if fulltext.is_file() else None))
    return papers


def abstract_document(paper: LibraryPaper) -> Document:
    record = paper.record
    parts = [record.abstract or record.title]
    if record.tldr:
        parts.append(f"TL;DR: {record.tldr}")
    text = "\n\n".join(parts)
    return Document(
        record, "abstract", f"{SOURCE}:abstract", [Chunk(text, "Abstract")], content_hash(text, _identity(paper))
    )


def fulltext_document(paper: LibraryPaper) -> Document | None:
    """The full text; its chunking waits until the ingester knows the hash is new (a re-import skips it)."""
    if paper.fulltext_path is None:
        return None
    raw = paper.fulltext_path.read_bytes()

    def chunks() -> list[Chunk]:
        pieces = json.loads(raw)
        ordered = sorted(pieces.items(), key=lambda item: _piece_number(item[0]))
        return chunk_markdown("\n\n".join(piece for _, piece in ordered))

    return Document(paper.record, "fulltext", f"{SOURCE}:fulltext", chunks, content_hash(raw, _identity(paper)))


def _piece_number(key: str) -> int:
    tail = key.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _identity(paper: LibraryPaper) -> str:
    """The metadata every chunk carries: when it changes, the paper's chunks are rewritten."""
    record = paper.record
    return json.dumps([record.title, list(record.authors), record.year, record.venue, record.arxiv_id, record.s2id])


def library_documents(
    root: str | Path, paper_ids: Iterable[str] | None = None, include_fulltext: bool = True
) -> Iterator[Document]:
    """Documents for the library, abstracts first (so a partial import can already answer most queries)."""
    papers = list_papers(root, paper_ids)
    for paper in papers:
        yield abstract_document(paper)
    if include_fulltext:
        for paper in papers:
            document = fulltext_document(paper)
            if document is not None:
                yield document
