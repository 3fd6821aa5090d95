"""Read files into chunked documents: PDF, Markdown or plain text, and Python source.

A document is one file's worth of chunks attached to a paper (an uploaded PDF attaches to a paper of
its own, or to a library paper when the uploader names its id). Its content hash covers the bytes and
the chunker version, so re-reading an unchanged file yields the same hash and ingestion can skip it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .chunking import Chunk, chunk_markdown, chunk_python
from .records import PaperRecord

#: Bump when chunking changes so that re-ingestion rewrites documents chunked the old way.
CHUNKER_VERSION = "1"

SUPPORTED_SUFFIXES = {
    ".pdf": "pdf",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".rst": "text",
    ".py": "python",
}


class UnsupportedFile(ValueError):
    """A file type the ingester cannot read; the message lists the ones it can."""


@dataclass
class Document:
    paper: PaperRecord
    kind: str  # "abstract", "fulltext", "code"
    origin: str  # where it came from, e.g. "library:fulltext", "upload:mamba.pdf"
    chunk_source: list[Chunk] | Callable[[], list[Chunk]]  # a function: chunked only if it must be embedded
    content_hash: str

    @cached_property
    def chunks(self) -> list[Chunk]:
        source = self.chunk_source
        return source() if callable(source) else source

    @property
    def doc_key(self) -> str:
        return f"{self.paper.paper_id}|{self.origin}"


def content_hash(*parts: bytes | str) -> str:
    digest = hashlib.sha256(CHUNKER_VERSION.encode())
    for part in parts:
        digest.update(b"\x00")
        digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()


def slugify(text: str, limit: int = 60) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].strip("-") or "document"


def paper_from_meta(meta: Mapping[str, Any], title: str, fallback_id: str, source: str) -> PaperRecord:
    """A PaperRecord from user-given metadata; what the user gave wins over what the file says."""
    authors = meta.get("authors") or ()
    if isinstance(authors, str):
        authors = [a.strip() for a in re.split(r";|\band\b|\n", authors) if a.strip()]
    chosen_title = str(meta.get("title") or title or fallback_id).strip()
    arxiv_id = str(meta.get("arxiv_id") or "").strip()
    given_id = re.sub(r"[^A-Za-z0-9._-]+", "-", str(meta.get("paper_id") or "").strip()).strip("-")
    if given_id:
        paper_id = given_id
    elif arxiv_id:
        paper_id = "arxiv-" + slugify(arxiv_id)
    else:
        paper_id = fallback_id
    return PaperRecord(
        paper_id=paper_id,
        title=chosen_title,
        authors=tuple(str(a) for a in authors),
        year=_year(meta.get("year")),
        venue=str(meta.get("venue") or ""),
        url=str(meta.get("url") or ""),
        arxiv_id=arxiv_id,
        s2id=str(meta.get("s2id") or ""),
        abstract=str(meta.get("abstract") or ""),
        source=source,
        cites=tuple(meta.get("cites") or ()),
    )


def _year(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def read_document(
    path: str | Path,
    meta: Mapping[str, Any] | None = None,
    source: str = "file",
    display_name: str | None = None,
) -> Document:
    """Read and chunk one file. `display_name` names an upload (its temp path means nothing)."""
    path = Path(path)
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UnsupportedFile(f"{path.name}: cannot ingest {path.suffix or 'files without a suffix'}; "
                              f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    meta = dict(meta or {})
    name = display_name or path.name
    data = path.read_bytes()
    if kind == "pdf":
        text, pdf_title, pdf_authors = _read_pdf(path)
        if pdf_authors and not meta.get("authors"):
            meta["authors"] = pdf_authors
        title = pdf_title
        chunks = chunk_markdown(text)
        doc_kind = "fulltext"
    elif kind == "python":
        text = data.decode("utf-8", errors="replace")
        title = name
        chunks = chunk_python(text)
        doc_kind = "code"
        if not meta.get("abstract"):
            meta["abstract"] = _module_docstring(text)
    else:
        text = data.decode("utf-8", errors="replace")
        title = _markdown_title(text) if kind == "markdown" else ""
        chunks = chunk_markdown(text)
        doc_kind = "fulltext"
    stem = Path(name).stem
    paper = paper_from_meta(meta, title or stem, slugify(stem), source)
    return Document(paper, doc_kind, f"{source}:{name}", chunks, content_hash(data))


def _markdown_title(text: str) -> str:
    match = re.search(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _module_docstring(source: str) -> str:
    import ast

    from verifier.core.pyparse import parse_module

    try:
        return (ast.get_docstring(parse_module(source)) or "").strip()
    except SyntaxError:
        return ""


_PDF_HEADING = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[A-Z]\.?|[IVX]+\.)\s+[A-Z][A-Za-z0-9 ,:&()\-]{2,70}$")
_PDF_NAMED_HEADING = re.compile(
    r"^(?:\d+\.?\s*)?(abstract|introduction|related work|background|method(?:s|ology)?|experiments?|results|"
    r"discussion|conclusions?|references|bibliography|acknowledg(?:e)?ments?|appendix)\s*$",
    re.IGNORECASE,
)


def _read_pdf(path: Path) -> tuple[str, str, str]:
    """(Markdown-ish text, title, authors). Section headings are guessed from short numbered lines."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    info = reader.metadata
    title = str(info.title or "").strip() if info else ""
    authors = str(info.author or "").strip() if info else ""
    if title.lower() in {"untitled", "microsoft word", ""} or title.lower().endswith((".doc", ".docx", ".tex")):
        title = ""
    paragraphs: list[str] = []
    current: list[str] = []
    first_line = ""

    def flush() -> None:
        if current:
            joined = " ".join(current)
            paragraphs.append(re.sub(r"(\w)- (\w)", r"\1\2", joined))
            current.clear()

    for page in reader.pages:
        for raw in (page.extract_text() or "").splitlines():
            line = raw.strip()
            if not line:
                flush()
                continue
            first_line = first_line or line
            if len(line) < 80 and (_PDF_HEADING.match(line) or _PDF_NAMED_HEADING.match(line)):
                flush()
                paragraphs.append(f"## {line}")
            else:
                current.append(line)
        flush()
    return "\n\n".join(paragraphs), title or first_line[:200], authors
