"""Shared fixtures and helpers of the knowledge tests (imported by the other test_knowledge_* modules).

Read-only stores that take long to build (the 297 library abstracts) are built once and kept under
var/test-cache/, in a folder named after a digest of the code that decides what a store holds: the next session's
import is then a no-op (idempotent ingestion), and any change to chunking or embedding code builds a
fresh one. GENESYS_TEST_KNOWLEDGE_CACHE=0 builds in a temporary folder instead. Tests that write get
fresh stores of their own.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from knowledge.core import KnowledgeBase

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "knowledge" / "core"
_cache: dict[str, Path] = {}


#: The modules that decide what a store holds (chunks, metadata, embeddings); ranking code is not among them.
STORE_CODE = ("chunking.py", "documents.py", "embedding.py", "ingest.py", "library.py", "records.py", "store.py")


def _code_digest() -> str:
    digest = hashlib.sha256()
    for name in STORE_CODE:
        digest.update(name.encode() + b"\0" + (CORE / name).read_bytes())
    return digest.hexdigest()[:12]


def cached_store(name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a read-only test store lives: var/test-cache/<name>-<code digest>, or a temporary folder."""
    if os.environ.get("GENESYS_TEST_KNOWLEDGE_CACHE", "1") in {"0", "false", "no"}:
        return tmp_path_factory.mktemp(name)
    root = Path(os.environ.get("GENESYS_VAR_DIR", REPO / "var")) / "test-cache"
    path = root / f"{name}-{_code_digest()}"
    for stale in root.glob(f"{name}-*"):
        if stale != path:
            shutil.rmtree(stale, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path

#: Small full texts (~25 passages each) with citation links among them: wgqa builds on gqa.
SMALL_PAPERS = ["mqa", "gqa", "wgqa"]


@pytest.fixture(scope="session")
def library_dir(genesys_data_dir: Path) -> Path:
    path = genesys_data_dir / "knowledge" / "genesys-reference-library"
    if not (path / "papers").is_dir():
        pytest.skip(f"no reference library under {path}")
    return path


@pytest.fixture(scope="session")
def abstracts_store(tmp_path_factory: pytest.TempPathFactory, library_dir: Path) -> Path:
    """A store holding the abstracts of all 297 library papers (read-only for tests)."""
    if "abstracts" not in _cache:
        path = cached_store("kb-abstracts", tmp_path_factory)
        KnowledgeBase(path).import_library(library_dir, include_fulltext=False)
        _cache["abstracts"] = path
    return _cache["abstracts"]


@pytest.fixture(scope="session")
def abstracts_kb(abstracts_store: Path) -> KnowledgeBase:
    return KnowledgeBase(abstracts_store)


# ------------------------------------------------------------------------------------------ file makers


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(path: Path, pages: list[list[str]], title: str = "", author: str = "") -> Path:
    """A real (if minimal) PDF with one Helvetica text line per string; "" leaves a blank line."""
    objects: list[str] = []
    font_id = 3 + 2 * len(pages)
    page_ids = []
    for number, lines in enumerate(pages):
        page_id, content_id = 3 + 2 * number, 4 + 2 * number
        page_ids.append(page_id)
        body = "BT /F1 11 Tf 14 TL 72 740 Td " + " ".join(f"{_pdf_string(line or ' ')} Tj T*" for line in lines) + " ET"
        objects.append(
            f"{page_id} 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >> endobj"
        )
        objects.append(f"{content_id} 0 obj << /Length {len(body)} >> stream\n{body}\nendstream endobj")
    info_id = font_id + 1
    head = [
        "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj",
        f"2 0 obj << /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {len(pages)} >> endobj",
    ]
    tail = [
        f"{font_id} 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj",
        f"{info_id} 0 obj << /Title {_pdf_string(title)} /Author {_pdf_string(author)} >> endobj",
    ]
    out = "%PDF-1.4\n"
    offsets = []
    for obj in head + objects + tail:
        offsets.append(len(out.encode("latin-1")))
        out += obj + "\n"
    xref_at = len(out.encode("latin-1"))
    out += f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets)
    out += f"trailer << /Size {len(offsets) + 1} /Root 1 0 R /Info {info_id} 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
    path.write_bytes(out.encode("latin-1"))
    return path


MARKDOWN_PAPER = """# Chunked Delta Memory for Recurrent Language Models

## Abstract

We propose chunked delta memory, a recurrent layer that writes key-value associations into a matrix
state with the delta rule and reads them with a query, trained in parallel over chunks.

## 1 Method

The state S is updated as S = S + beta (v - S k) k^T for every token. Within a chunk the updates are
computed with a WY representation so that training uses matrix multiplications.

## 2 Experiments

On associative recall the chunked delta memory reaches 99 percent accuracy with a state of 64 by 64.
"""

PYTHON_UNIT = '''"""A gated MLP unit for the Genesys composer."""

import torch
from torch import nn

WIDTH = 4


class GatedMLP(nn.Module):
    """Feed-forward block with a sigmoid gate on the hidden units."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.up = nn.Linear(dim, WIDTH * dim)
        self.gate = nn.Linear(dim, WIDTH * dim)
        self.down = nn.Linear(WIDTH * dim, dim)

    def forward(self, x):
        return self.down(self.up(x) * torch.sigmoid(self.gate(x)))


def rotary_frequencies(dim: int, base: float = 10000.0):
    """Inverse frequencies of rotary position embeddings."""
    return 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
'''
