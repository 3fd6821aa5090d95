"""Downloads of a verified rung: the Hugging Face model folder (zipped) and the reproducibility bundle.

Both are built from the verification's run folder by `verifier.core.export`, which only writes
files: the design's code is composed as text and copied, never imported or run in this process.
A built file is kept in the run folder's `exports/` and served again until the report changes.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings as django_settings

from evolution.models import Verification
from evolution.selectors.exports import lineage_of
from evolution.services.events import record_event
from evolution.services.work import run_dir
from verifier.core.export import ExportError, export_run, make_bundle
from verifier.core.export.bundle import BundleError
from verifier.core.export.run_folder import RunFolderError
from verifier.core.gau.tree import GAUTree

KINDS = {"hf": "-hf.zip", "bundle": "-bundle.tar.gz"}
STORED_SUFFIXES = (".safetensors", ".model")  # already dense: stored, not deflated


class ExportUnavailable(Exception):
    """The rung cannot be exported (no run folder, no weights, a refused design); the message says why."""


def export_file(verification: Verification, kind: str, actor=None) -> Path:
    """The download of `kind` ("hf" or "bundle") for a finished verification, built if needed."""
    if kind not in KINDS:
        raise ExportUnavailable(f"unknown export {kind!r} (hf or bundle)")
    design = verification.design
    folder = run_dir(design, verification.rung)
    report = folder / "report.json"
    if not report.is_file():
        raise ExportUnavailable(f"the run folder of {design.name} at {verification.rung} is not on this server")
    target = folder / "exports" / f"{design.slug}-{verification.rung}{KINDS[kind]}"
    if target.is_file() and target.stat().st_mtime >= report.stat().st_mtime:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tree = GAUTree.from_dict(design.tree) if design.tree else None
    data_dir = Path(django_settings.GENESYS_DATA_DIR) if django_settings.GENESYS_DATA_DIR else None
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        try:
            if kind == "hf":
                built = export_run(folder, Path(tmp) / "model", design=tree, lineage=lineage_of(design),
                                   data_dir=data_dir)
                zip_folder(built, Path(tmp) / "out", f"{design.slug}-{verification.rung}")
            else:
                make_bundle(folder, Path(tmp) / "out", design=tree, data_dir=data_dir)
        except (ExportError, BundleError, RunFolderError, OSError) as exc:
            raise ExportUnavailable(str(exc)) from exc
        os.replace(Path(tmp) / "out", target)  # atomic: a concurrent download sees the old or the new file
    record_event("design.exported", {"rung": verification.rung, "kind": kind, "bytes": target.stat().st_size},
                 design=design, actor=actor)
    return target


def zip_folder(folder: Path, out: Path, top: str) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            method = zipfile.ZIP_STORED if path.suffix in STORED_SUFFIXES else zipfile.ZIP_DEFLATED
            zf.write(path, f"{top}/{path.relative_to(folder).as_posix()}", compress_type=method)
    return out
