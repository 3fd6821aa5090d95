"""Output helpers shared by the GPU benchmark and its end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path


def say(message: str = "") -> None:
    print(message, flush=True)


def write_json(path: Path | None, doc: dict) -> None:
    """Atomically (a reader never sees half a file; a kill leaves the last complete one)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str))
    tmp.replace(path)
