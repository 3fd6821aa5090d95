"""Shared fixtures: the data directory, and torch kept to a few threads on the 2-core CI box."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"


def data_dir() -> Path | None:
    path = Path(os.environ.get("GENESYS_DATA_DIR", DEFAULT_DATA_DIR))
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def genesys_data_dir() -> Path:
    path = data_dir()
    if path is None:
        pytest.skip("no data directory (set GENESYS_DATA_DIR)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
