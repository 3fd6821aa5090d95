"""Split documents into retrieval-sized chunks.

Prose is split by Markdown sections, then paragraphs, then sentences, and packed into chunks of at
most `max_chars`, each starting with the tail of the previous one (overlap) so that a sentence cut at a
boundary is still found whole. Python is split by definitions (a function, a class or a method per
chunk), because a reader asks about "the function that does X", not about lines 40-80.
The embedding model reads 256 word pieces (about 1,000 characters of English), hence the default size.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from verifier.core.pyparse import parse_module

DEFAULT_MAX_CHARS = 1100
DEFAULT_OVERLAP = 150
CODE_MAX_CHARS = 1500

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$(\[\"'])")
_BIBLIOGRAPHY_HEADING = re.compile(r"^(\d+\.?\s*)?(references|bibliography|works cited)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Chunk:
    text: str
    section: str = ""


# ---------------------------------------------------------------------------------------------- prose


def chunk_markdown(
    text: str,
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap: int = DEFAULT_OVERLAP,
    skip_bibliography: bool = True,
) -> list[Chunk]:
    """Chunks of a Markdown (or plain-text) document; each records the heading it sits under."""
    if overlap >= max_chars:
        raise ValueError("overlap must be smaller than max_chars")
    chunks: list[Chunk] = []
    for section, body in _sections(text):
        if skip_bibliography and _BIBLIOGRAPHY_HEADING.match(section):
            continue
        pieces = list(_pieces(body, max_chars - overlap))
        for chunk_text in _pack(pieces, max_chars, overlap):
            if skip_bibliography and looks_like_bibliography(chunk_text):
                continue
            chunks.append(Chunk(chunk_text, section))
    return chunks


def chunk_text(
    text: str, max_chars: int = DEFAULT_MAX_CHARS, overlap: int = DEFAULT_OVERLAP, section: str = ""
) -> list[Chunk]:
    """Chunks of plain text with no heading structure (e.g. a PDF page), all under `section`."""
    pieces = list(_pieces(text, max_chars - overlap))
    return [Chunk(t, section) for t in _pack(pieces, max_chars, overlap)]


def _sections(text: str) -> Iterator[tuple[str, str]]:
    """(heading, body) pairs; text before the first heading has heading ""."""
    heading = ""
    body: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            if any(b.strip() for b in body):
                yield heading, "\n".join(body)
            heading = _clean_heading(match.group(2))
            body = []
        else:
            body.append(line)
    if any(b.strip() for b in body):
        yield heading, "\n".join(body)


def _clean_heading(raw: str) -> str:
    cleaned = re.sub(r"[*_`]", "", raw).strip()
    return cleaned[:200]


def _pieces(text: str, limit: int) -> Iterator[str]:
    """Paragraphs, with any paragraph over `limit` split into sentences, and any sentence into words."""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= limit:
            yield paragraph
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            sentence = sentence.strip()
            if len(sentence) <= limit:
                if sentence:
                    yield sentence
            else:
                yield from _hard_split(sentence, limit)


def _hard_split(text: str, limit: int) -> Iterator[str]:
    """Split at whitespace near `limit` (at `limit` exactly when a run has no whitespace, e.g. LaTeX)."""
    while len(text) > limit:
        cut = text.rfind(" ", limit // 2, limit)
        if cut <= 0:
            cut = limit
        yield text[:cut].strip()
        text = text[cut:].strip()
    if text:
        yield text


def _pack(pieces: list[str], max_chars: int, overlap: int) -> Iterator[str]:
    """Greedily join pieces into chunks; each new chunk begins with the previous chunk's tail."""
    current = ""
    fresh = False  # whether `current` holds more than the carried-over tail
    for piece in pieces:
        candidate = f"{current}\n\n{piece}" if current else piece
        if len(candidate) <= max_chars:
            current, fresh = candidate, True
            continue
        if fresh:
            yield current
            tail = _tail(current, overlap)
            current = f"{tail}\n\n{piece}" if tail and len(tail) + len(piece) + 2 <= max_chars else piece
        else:
            current = piece
        fresh = True
    if current and fresh:
        yield current


def _tail(text: str, overlap: int) -> str:
    """The last ~`overlap` characters, starting at a sentence start if there is one, else a word."""
    if overlap <= 0 or len(text) <= overlap:
        return "" if overlap <= 0 else text
    tail = text[-overlap:]
    sentence = _SENTENCE_END.search(tail)
    if sentence and len(tail) - sentence.end() >= overlap // 3:
        return tail[sentence.end() :].strip()
    space = tail.find(" ")
    return tail[space + 1 :].strip() if space >= 0 else tail


_YEAR_ENDING_ENTRY = re.compile(r"\b(?:19|20)\d{2}[a-z]?\s?[.,]?\s*(?:\n|$)|\b(?:19|20)\d{2}[a-z]?\.(?=\s|$)")
_VENUE = re.compile(
    r"arXiv preprint|arXiv:\s?\d|abs/\d|Proceedings of|In Advances|Advances in Neural|In International|"
    r"Conference on|In:|Journal of|URL https?://|doi:|CoRR|pp\. \d|PMLR|In NeurIPS|In ICLR|In ICML|In EMNLP|In ACL"
)
_NUMBERED_ENTRY = re.compile(r"(?:^|\s)\[\d{1,3}\]\s+[A-Z]")
_AUTHOR_LIST = re.compile(r"\b[A-Z][a-z]+(?: [A-Z]\.?)* [A-Z][a-zA-Z'-]+, (?:and )?[A-Z][a-z]+")
_SURNAME_INITIALS = re.compile(r"\b[A-Z][a-zA-Z'-]+, (?:[A-Z]\.\s?)+(?:,|and)")
_IN_TEXT_CITATION = re.compile(r"et al\.?,? \(?(?:19|20)\d{2}")


def looks_like_bibliography(text: str) -> bool:
    """Whether a chunk is mostly a reference list: entries ending in a year, venues, numbered entries and
    author lists, far more of them than in-text citations ("Gu et al., 2022") that prose would have.

    Reference lists match almost any query on keywords yet say nothing themselves, so they are left out.
    """
    per_1000 = 1000 / max(len(text), 1)

    def density(pattern: re.Pattern[str]) -> float:
        return len(pattern.findall(text)) * per_1000

    signal = (
        density(_YEAR_ENDING_ENTRY)
        + density(_VENUE)
        + density(_NUMBERED_ENTRY)
        + 0.5 * (density(_AUTHOR_LIST) + density(_SURNAME_INITIALS))
    )
    return signal >= 5 and signal > 2.5 * density(_IN_TEXT_CITATION)


# ----------------------------------------------------------------------------------------------- code


def chunk_python(source: str, max_chars: int = CODE_MAX_CHARS) -> list[Chunk]:
    """One chunk per top-level function or class (a big class: its header, then one per method).

    Module-level statements between definitions are grouped as "module". Source that does not parse is
    chunked as plain text so that a broken file can still be searched.
    """
    try:
        tree = parse_module(source)
    except SyntaxError:
        return chunk_text(source, max_chars=max_chars, overlap=0)
    lines = source.splitlines()
    chunks: list[Chunk] = []
    pending_module: list[str] = []

    def flush_module() -> None:
        text = "\n".join(pending_module).strip()
        if text:
            chunks.extend(_split_lines(text, "module", max_chars))
        pending_module.clear()

    cursor = 0  # first line (0-based) not yet assigned to a chunk
    for node in tree.body:
        start = _first_line(node) - 1
        end = (node.end_lineno or node.lineno) - 1
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        pending_module.extend(lines[cursor:start])
        flush_module()
        text = "\n".join(lines[start : end + 1])
        if isinstance(node, ast.ClassDef):
            chunks.extend(_class_chunks(node, lines, text, max_chars))
        else:
            chunks.extend(_split_lines(text, f"def {node.name}", max_chars))
        cursor = end + 1
    pending_module.extend(lines[cursor:])
    flush_module()
    return chunks


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


def _class_chunks(node: ast.ClassDef, lines: list[str], text: str, max_chars: int) -> list[Chunk]:
    if len(text) <= max_chars:
        return [Chunk(text, f"class {node.name}")]
    methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not methods:
        return _split_lines(text, f"class {node.name}", max_chars)
    chunks: list[Chunk] = []
    class_start = _first_line(node) - 1
    header = "\n".join(lines[class_start : _first_line(methods[0]) - 1]).rstrip()
    chunks.extend(_split_lines(header, f"class {node.name}", max_chars))
    for method in methods:
        body = "\n".join(lines[_first_line(method) - 1 : (method.end_lineno or method.lineno)])
        # The class line gives the method its context when it is read alone.
        chunks.extend(_split_lines(f"class {node.name}:\n{body}", f"{node.name}.{method.name}", max_chars))
    return chunks


def _split_lines(text: str, section: str, max_chars: int) -> list[Chunk]:
    """Whole lines into windows of at most `max_chars`, repeating the last two lines of the window before."""
    if len(text) <= max_chars:
        return [Chunk(text, section)] if text.strip() else []
    chunks: list[Chunk] = []
    window: list[str] = []
    size = 0
    for line in text.splitlines():
        if len(line) > max_chars:
            line = line[:max_chars]
        if window and size + len(line) + 1 > max_chars:
            chunks.append(Chunk("\n".join(window), section))
            window = window[-2:] if sum(len(w) + 1 for w in window[-2:]) + len(line) < max_chars else []
            size = sum(len(w) + 1 for w in window)
        window.append(line)
        size += len(line) + 1
    if any(w.strip() for w in window):
        chunks.append(Chunk("\n".join(window), section))
    return chunks
