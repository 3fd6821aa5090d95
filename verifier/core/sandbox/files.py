"""Files in a folder a sandboxed child could write: never follow a link it may have planted.

The parent runs as a more privileged user than the child; a `report.json` that is a link to a
secret, or a `design.json` that is a link to a system file, must not make the parent read or
write through it."""

from __future__ import annotations

import os
from pathlib import Path

MAX_READ_BYTES = 64 * 1024 * 1024


def read_bytes(path: str | Path, limit: int = MAX_READ_BYTES) -> bytes | None:
    """The contents of a regular file (at most `limit` bytes), or None: missing, a link, not a file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_text(path: str | Path, text: str) -> None:
    """Replace `path` with a new regular file holding `text` (whatever was there, a link included)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def open_append(path: str | Path) -> int:
    """A file descriptor appending to `path` (created if missing); OSError if it is a link."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
