"""Real text for the training sanity run, as byte-level tokens (vocabulary 256, no tokenizer).

The corpus comes from the data directory (GENESYS_DATA_DIR) when there is one; otherwise from
prose the Python standard library ships (the documentation topics behind `help()`), so the check
runs on a bare GPU host too. The report says which text was used.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from .config import CheckConfig

_STDLIB_PROSE = ("pydoc_data/topics.py", "this.py", "textwrap.py", "argparse.py")


def _stdlib_text(limit: int) -> tuple[bytes, str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    chunks: list[bytes] = []
    used: list[str] = []
    for rel in _STDLIB_PROSE:
        path = stdlib / rel
        if path.is_file():
            chunks.append(path.read_bytes())
            used.append(rel)
        if sum(len(c) for c in chunks) >= limit:
            break
    if not chunks:
        raise FileNotFoundError(f"no standard-library text found under {stdlib}")
    return b"\n".join(chunks)[:limit], "stdlib:" + ",".join(used)


def training_text(config: CheckConfig) -> tuple[bytes, str]:
    """(text bytes, where they came from)."""
    data_dir = config.resolved_data_dir()
    if data_dir is not None:
        path = data_dir / config.corpus
        if path.is_file():
            with path.open("rb") as handle:
                return handle.read(config.text_bytes), f"data:{config.corpus}"
    return _stdlib_text(config.text_bytes)
