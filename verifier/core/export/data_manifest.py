"""The data a verification read, as a list of files with sizes and SHA-256 hashes.

Paths under the data directory are stored relative to it, so a bundle made on one machine checks
against another machine's copy of the same data. Roles: `corpus` and `tokenizer` (training), `eval`
(the local lm-eval task files and the data files they name).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..train.data import corpus_files, resolve_path
from ..train.evaluation import _DATA_PATH, local_tasks_dir


@dataclass(frozen=True)
class DataFile:
    path: str
    role: str
    bytes: int
    sha256: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _entry(path: Path, role: str, data_dir: Path | None) -> DataFile:
    shown = str(path)
    if data_dir is not None:
        try:
            shown = path.resolve().relative_to(Path(data_dir).resolve()).as_posix()
        except ValueError:
            pass
    return DataFile(path=shown, role=role, bytes=path.stat().st_size, sha256=sha256_file(path))


def eval_files(data_dir: Path) -> list[Path]:
    """The local task files and the data files their YAMLs name (`eval/...`)."""
    tasks = local_tasks_dir(data_dir)
    if tasks is None:
        return []
    files = sorted(p for p in tasks.rglob("*") if p.is_file())
    named: set[Path] = set()
    for path in files:
        if path.suffix in (".yaml", ".yml"):
            for line in path.read_text().splitlines():
                m = _DATA_PATH.match(line)
                if m and (Path(data_dir) / m.group(2)).is_file():
                    named.add(Path(data_dir) / m.group(2))
    return files + sorted(named)


def build_manifest(report_data: dict[str, Any], data_dir: Path | None, with_eval: bool) -> dict[str, Any]:
    """{"data_hash", "corpus", "tokenizer", "files": [DataFile...]} for a report's `data` section."""
    files: list[DataFile] = []
    tokenizer = resolve_path(str(report_data.get("tokenizer", "")), data_dir)
    if tokenizer is not None and tokenizer.is_dir():
        files += [_entry(p, "tokenizer", data_dir) for p in sorted(tokenizer.iterdir()) if p.is_file()]
    corpus = resolve_path(str(report_data.get("corpus", "")), data_dir)
    if corpus is not None:
        files += [_entry(p, "corpus", data_dir) for p in corpus_files(corpus)]
    if with_eval and data_dir is not None:
        files += [_entry(p, "eval", data_dir) for p in eval_files(Path(data_dir))]
    return {"data_hash": report_data.get("hash"), "corpus": report_data.get("corpus"),
            "tokenizer": report_data.get("tokenizer"), "files": [asdict(f) for f in files]}


def check_manifest(manifest: dict[str, Any], data_dir: Path | None, roles: tuple[str, ...]) -> list[str]:
    """Problems (missing or changed files of the given roles) of `data_dir` against `manifest`."""
    problems = []
    for row in manifest.get("files", []):
        if row["role"] not in roles:
            continue
        path = Path(row["path"])
        if not path.is_absolute():
            path = Path(data_dir or ".") / path
        if not path.is_file():
            problems.append(f"missing: {row['path']}")
        elif path.stat().st_size != row["bytes"] or sha256_file(path) != row["sha256"]:
            problems.append(f"changed: {row['path']}")
    return problems
