"""Read an uploaded design into a GAU tree without running it.

Three forms are accepted: a design JSON (`GAUTree.to_dict()`), a single-file GAB in the paper's
reference format (read by the verifier's importer) and a zip of unit files (one GAU per file, as the
seeds are stored). Everything here parses; nothing executes the code, which only ever runs in the
checker's sandbox. Zip archives are read with limits so that a hostile archive cannot fill the disk.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from verifier.core.gau.tree import GAUTree, TreeError
from verifier.core.gau.unit_folder import load_unit_folder

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_ZIP_MEMBERS = 200
MAX_ZIP_UNPACKED = 8 * 1024 * 1024

JSON, GAB, ZIP = "json", "gab", "zip"


class IntakeError(ValueError):
    """The upload cannot be read as a design; the message says why, for the person who sent it, and
    `line` where in the text (a syntax error), when that is known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def kind_of(filename: str, data: bytes) -> str:
    suffix = Path(filename or "").suffix.lower()
    if suffix == ".zip" or data[:4] == b"PK\x03\x04":
        return ZIP
    if suffix == ".json" or data.lstrip()[:1] == b"{":
        return JSON
    if suffix == ".py" or not suffix:
        return GAB
    raise IntakeError(f"cannot read {filename!r}: expected a .json design, a .py GAB or a .zip of unit files")


def read_design(filename: str, data: bytes) -> tuple[GAUTree, str]:
    """(tree, kind) for an uploaded file or pasted text; raises IntakeError."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise IntakeError(f"the upload is {len(data) // 1024} KiB; the limit is {MAX_UPLOAD_BYTES // 1024} KiB")
    if not data.strip():
        raise IntakeError("the upload is empty")
    kind = kind_of(filename, data)
    try:
        if kind == ZIP:
            tree = _read_zip(data, Path(filename or "design").stem)
        else:
            text = data.decode("utf-8")
            tree = GAUTree.from_json(text) if kind == JSON else _read_gab(text, Path(filename or "gab").stem)
    except UnicodeDecodeError as exc:
        raise IntakeError(f"the upload is not UTF-8 text: {exc}") from exc
    except (TreeError, SyntaxError) as exc:
        line = getattr(exc, "lineno", None)
        raise IntakeError(str(exc), line if isinstance(line, int) and line > 0 else None) from exc
    problems = tree.validate()
    if problems:
        raise IntakeError("the design is not a valid GAU tree: " + "; ".join(problems))
    return tree, kind


def source_text(filename: str, data: bytes) -> str:
    """The upload as text, to show and edit again ("" for an archive or bytes that are not UTF-8)."""
    if len(data) > MAX_UPLOAD_BYTES or kind_of_quietly(filename, data) == ZIP:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def kind_of_quietly(filename: str, data: bytes) -> str:
    try:
        return kind_of(filename, data)
    except IntakeError:
        return ""


def _read_gab(text: str, stem: str) -> GAUTree:
    try:
        from verifier.core.importer import import_gab_file  # the reference-format importer
    except ImportError as exc:
        raise IntakeError("single-file GAB import is not installed on this server yet; "
                          "upload a design JSON or a zip of unit files") from exc
    with tempfile.TemporaryDirectory(prefix="genesys-upload-") as tmp:
        path = Path(tmp) / f"{_safe_stem(stem) or 'gab'}.py"
        path.write_text(text)
        return import_gab_file(path)


def _safe_stem(stem: str) -> str:
    return "".join(c for c in stem if c.isalnum() or c in "_-")[:80]


def _read_zip(data: bytes, stem: str) -> GAUTree:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise IntakeError(f"not a readable zip archive: {exc}") from exc
    members = [m for m in archive.infolist() if not m.is_dir() and "__MACOSX" not in m.filename]
    if len(members) > MAX_ZIP_MEMBERS:
        raise IntakeError(f"the archive holds {len(members)} files; the limit is {MAX_ZIP_MEMBERS}")
    if sum(m.file_size for m in members) > MAX_ZIP_UNPACKED:
        raise IntakeError("the archive unpacks to more than 8 MiB")
    wanted = [m for m in members if PurePosixPath(m.filename).suffix in (".py", ".md")]
    units = [m for m in wanted if m.filename.endswith(".py") and not PurePosixPath(m.filename).name.startswith("_")]
    if not units:
        raise IntakeError("the archive holds no unit files (*.py)")
    folders = {PurePosixPath(m.filename).parent for m in units}
    if len(folders) != 1:
        raise IntakeError("unit files must all sit in one folder of the archive; found " +
                          ", ".join(sorted(str(f) for f in folders)))
    folder = folders.pop()
    name = folder.name if str(folder) not in ("", ".") else stem
    with tempfile.TemporaryDirectory(prefix="genesys-upload-") as tmp:
        target = Path(tmp) / "units"
        target.mkdir()
        for m in wanted:
            path = PurePosixPath(m.filename)
            if path.parent != folder:
                continue
            # Only the base name is used, so "../" in an archive cannot write outside `target`.
            (target / path.name).write_bytes(archive.read(m))
        return load_unit_folder(target, name=_safe_stem(name) or "design")
