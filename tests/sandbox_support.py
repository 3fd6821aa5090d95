"""For tests that need the sandbox: skip only where bubblewrap is not installed (outside CI); fail
where it is installed but does not work, and in CI (which installs it) when it is missing."""

from __future__ import annotations

import os
import shutil

import pytest

from verifier.core.sandbox import UNSAFE_ENV, bubblewrap_problem


def require_bubblewrap() -> None:
    if shutil.which("bwrap") is None and not os.environ.get("CI"):
        pytest.skip("bubblewrap is not installed")
    problem = bubblewrap_problem()
    if problem is not None:
        pytest.fail(f"bubblewrap is installed but the sandbox does not start: {problem}")


@pytest.fixture
def bubblewrap() -> None:
    require_bubblewrap()


@pytest.fixture
def unsafe_no_sandbox(monkeypatch) -> None:
    """The operator's switch, for tests of the rlimit-only mode."""
    monkeypatch.setenv(UNSAFE_ENV, "1")


needs_bubblewrap = pytest.mark.usefixtures("bubblewrap")
