"""Context every page gets."""

from __future__ import annotations

from typing import Any

from verifier.core.sandbox.mode import UNSAFE_ENV, unsafe_allowed


def sandbox(request) -> dict[str, Any]:
    """Whether the operator let generated code run without the sandbox (every page then says so)."""
    return {"unsafe_no_sandbox": unsafe_allowed(), "unsafe_sandbox_switch": UNSAFE_ENV}
