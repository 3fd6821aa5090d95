"""Load a design from what a user names on the command line: a seed, a JSON file, a unit folder,
or a single-file GAB in the reference format."""

from __future__ import annotations

from pathlib import Path

from .gau.tree import GAUTree, TreeError
from .gau.unit_folder import load_unit_folder
from .seeds import SEED_NAMES, load_seed


def load_design(ref: str) -> GAUTree:
    path = Path(ref)
    if ref in SEED_NAMES and not path.exists():
        return load_seed(ref)
    if path.is_dir():
        return load_unit_folder(path)
    if path.suffix == ".json":
        return GAUTree.from_json(path.read_text())
    if path.suffix == ".py":
        from .importer import import_gab_file  # the single-file importer (reference format)

        return import_gab_file(path)
    if not path.exists():
        raise TreeError(f"{ref!r} is neither a seed ({', '.join(SEED_NAMES)}) nor an existing file")
    raise TreeError(f"cannot read a design from {ref!r}: expected a .json file, a .py file or a folder")
