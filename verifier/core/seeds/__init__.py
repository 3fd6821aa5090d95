"""The five seed designs, each a folder of unit files (one GAU per file)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ..gau.tree import GAUTree, TreeError
from ..gau.unit_folder import load_unit_folder

SEEDS_DIR = Path(__file__).parent
SEED_NAMES = ("gpt", "mamba2", "retnet", "rwkv6", "ttt")


@cache
def _load(name: str) -> GAUTree:
    return load_unit_folder(SEEDS_DIR / name, name=name)


def load_seed(name: str) -> GAUTree:
    """A fresh copy of seed `name`'s GAU tree."""
    if name not in SEED_NAMES:
        raise TreeError(f"unknown seed {name!r}; seeds are {', '.join(SEED_NAMES)}")
    return _load(name).copy()


def available_seeds() -> list[str]:
    return [n for n in SEED_NAMES if (SEEDS_DIR / n).is_dir()]
