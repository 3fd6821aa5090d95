"""What a verification left in its output folder: the report, the weights and the design.

The evolution's workers write `design.json` next to `report.json` and `model.safetensors`; a run
started by hand may not, so the design can also be named (seed, JSON, unit folder, gab.py). A
design whose hash differs from the report's is refused: the weights belong to the report's design.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..design_io import load_design
from ..gau.tree import GAUTree
from ..train.report import REPORT_NAME, VerificationReport

DESIGN_NAME = "design.json"


class RunFolderError(ValueError):
    """The folder is not an exportable verification (missing files, a failed run, a wrong design)."""


@dataclass
class RunFolder:
    path: Path
    report: VerificationReport
    tree: GAUTree
    weights: Path | None


def read_run_folder(path: Path, design: GAUTree | str | Path | None = None, need_weights: bool = True) -> RunFolder:
    path = Path(path)
    if not (path / REPORT_NAME).is_file():
        raise RunFolderError(f"{path} holds no {REPORT_NAME}: not a verification's output folder")
    report = VerificationReport.read(path)
    if report.status != "done":
        raise RunFolderError(f"the verification in {path} did not finish ({report.status}: {report.error or 'no report'})")
    weights = path / report.weights if report.weights else None
    if need_weights and (weights is None or not weights.is_file()):
        raise RunFolderError(f"the verification in {path} saved no weights (run it with save_weights on)")
    tree = _design(path, design)
    if tree.content_hash() != report.design_hash:
        raise RunFolderError(f"design {tree.name!r} (hash {tree.content_hash()}) is not the design this run "
                             f"verified ({report.design_name!r}, hash {report.design_hash})")
    return RunFolder(path=path, report=report, tree=tree, weights=weights)


def _design(path: Path, design: GAUTree | str | Path | None) -> GAUTree:
    if isinstance(design, GAUTree):
        return design
    if design is not None:
        return load_design(str(design))
    if (path / DESIGN_NAME).is_file():
        return GAUTree.from_json((path / DESIGN_NAME).read_text())
    raise RunFolderError(f"{path} holds no {DESIGN_NAME}; name the design (--design SEED|JSON|FOLDER|gab.py)")
