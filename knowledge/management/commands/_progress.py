"""A progress line for long ingestions: done/total, rate and time left, at most every few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def progress_writer(stream: Any, every_s: float = 5.0) -> Callable[[int, int, str], None]:
    started = time.monotonic()
    last = [-every_s]

    def progress(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if done not in (0, total) and now - last[0] < every_s:
            return
        last[0] = now
        if total == 0:
            stream.write(message)
            return
        rate = done / max(now - started, 1e-9)
        left = f", about {(total - done) / rate / 60:.1f} min left" if 0 < done < total and rate > 0 else ""
        stream.write(f"{done}/{total} passages embedded ({100 * done / total:.0f}%{left}) {message[:60]}")

    return progress
