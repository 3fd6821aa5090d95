"""Numbers read from a query string: a bad or out-of-range value is the caller's choice of default
or a clear 400, never a 500 (a database integer column overflows past 2**31 on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DB_INT_MAX = 2**31 - 1


def int_param(params: Mapping[str, Any], key: str, default: int | None = None, *, lo: int = -DB_INT_MAX,
              hi: int = DB_INT_MAX, clamp: bool = False) -> int | None:
    """`params[key]` as an int; `default` when absent, unreadable or (unless `clamp`) out of [lo, hi]."""
    raw = params.get(key)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        return default
    if clamp:
        return max(lo, min(hi, value))
    return value if lo <= value <= hi else default
