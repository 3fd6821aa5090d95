"""Plain records the knowledge engine hands out: papers, chunks and search hits.

They are plain data (no chroma, no Django) so the designer can put them in prompts and store them on
a proposal, and the web app can render them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


def format_authors(authors: tuple[str, ...] | list[str], limit: int = 3) -> str:
    """"A, B and C" or "A, B, C et al." — short enough for a prompt or a result list."""
    names = [a for a in authors if a]
    if not names:
        return ""
    if len(names) > limit:
        return ", ".join(names[:limit]) + " et al."
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class PaperRecord:
    """One paper (or any ingested document) as the catalog knows it."""

    paper_id: str
    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str = ""
    url: str = ""
    arxiv_id: str = ""
    s2id: str = ""
    abstract: str = ""
    tldr: str = ""
    source: str = ""  # "library", "upload", "file"
    cites: tuple[str, ...] = ()  # paper ids (inside the knowledge base) this paper builds on
    citation_count: int | None = None

    @property
    def citation(self) -> str:
        return citation_string(self.title, self.authors, self.year, self.venue, self.arxiv_id, self.s2id)

    def to_metadata(self) -> dict[str, Any]:
        """Flat scalars for a chroma record (lists become JSON strings; None values are left out)."""
        data = asdict(self)
        data["authors"] = json.dumps(list(self.authors))
        data["cites"] = json.dumps(list(self.cites))
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> PaperRecord:
        return cls(
            paper_id=str(meta["paper_id"]),
            title=str(meta.get("title", "")),
            authors=tuple(json.loads(meta.get("authors") or "[]")),
            year=_int_or_none(meta.get("year")),
            venue=str(meta.get("venue", "")),
            url=str(meta.get("url", "")),
            arxiv_id=str(meta.get("arxiv_id", "")),
            s2id=str(meta.get("s2id", "")),
            abstract=str(meta.get("abstract", "")),
            tldr=str(meta.get("tldr", "")),
            source=str(meta.get("source", "")),
            cites=tuple(json.loads(meta.get("cites") or "[]")),
            citation_count=_int_or_none(meta.get("citation_count")),
        )


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return None if number < 0 else number


def citation_string(
    title: str,
    authors: tuple[str, ...] | list[str],
    year: int | None,
    venue: str = "",
    arxiv_id: str = "",
    s2id: str = "",
) -> str:
    """One-line reference: 'Dao and Gu (2024). Title. Venue. arXiv:...'."""
    parts = []
    who = format_authors(authors)
    parts.append(f"{who} ({year})." if who and year else (f"{who}." if who else (f"({year})." if year else "")))
    parts.append(title.strip().rstrip(".") + ".")
    if venue:
        parts.append(venue.strip().rstrip(".") + ".")
    if arxiv_id:
        parts.append(f"arXiv:{arxiv_id}.")
    elif s2id:
        parts.append(f"S2:{s2id[:12]}.")
    return " ".join(p for p in parts if p)


@dataclass
class Hit:
    """One retrieved chunk with its score and where it comes from."""

    chunk_id: str
    text: str
    score: float
    paper_id: str
    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    section: str = ""
    citation: str = ""
    kind: str = ""  # "abstract", "fulltext", "code", "text"
    source: str = ""
    chunk_index: int = 0
    ranks: dict[str, int] = field(default_factory=dict)  # rank per method: {"dense": 1, "bm25": 4}

    def as_reference(self) -> dict[str, Any]:
        """What a proposal stores in `proposal["references"]` (and the paper page looks for)."""
        return {
            "paper_id": self.paper_id,
            "title": self.title,
            "authors": list(self.authors),
            "year": self.year,
            "citation": self.citation,
            "chunk_id": self.chunk_id,
            "section": self.section,
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["authors"] = list(self.authors)
        return data


def format_references(hits: list[Hit], max_chars: int = 600) -> str:
    """References as a numbered block for an LLM prompt: citation, section, then the passage."""
    lines = []
    for number, hit in enumerate(hits, start=1):
        passage = " ".join(hit.text.split())
        if len(passage) > max_chars:
            passage = passage[: max_chars - 1].rstrip() + "…"
        where = f" — {hit.section}" if hit.section else ""
        lines.append(f"[{number}] {hit.citation} (id: {hit.paper_id}){where}\n{passage}")
    return "\n\n".join(lines)


def searchable_text(title: str, section: str, text: str) -> str:
    """What both retrievers index for a chunk: its text with the paper title and section in front.

    A passage rarely names the paper it comes from; with the title in front, "Mamba selective scan" finds
    the Mamba paper's method section and not only its abstract.
    """
    head = title.strip()
    if section and section.strip().lower() != title.strip().lower():
        head = f"{head} — {section.strip()}" if head else section.strip()
    return f"{head}\n{text}" if head else text
