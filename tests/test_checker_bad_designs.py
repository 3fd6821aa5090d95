"""Every design in tests/bad_designs/ is broken in one way and must be rejected with that category.

Each file says what it expects in its header (`# expect: <category>`); files that the static stage
rejects and that would do harm if they ran also say what the sandbox makes of them when the static
stage is skipped (`# runtime-only: <category>`), which shows the second and third layers holding.
Runtime checks run two at a time (two cores); every design is really checked, in its own sandbox.
"""

from __future__ import annotations

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from verifier.core.checker import CATEGORIES, CheckConfig, CheckReport
from verifier.core.checker.files import check_path

BAD = Path(__file__).resolve().parent / "bad_designs"
STATIC_CATEGORIES = {"syntax", "protocol", "forbidden-import", "sandbox-violation"}
SECRET = "genesys-test-secret-4c1d"


def expectation(path: Path) -> tuple[str, str | None]:
    if path.suffix == ".json":
        meta = json.loads(path.read_text())["metadata"]
        return meta["expect"], meta.get("runtime-only")
    text = path.read_text()
    expect = re.search(r"^# expect: ([\w-]+)", text, re.M)
    runtime = re.search(r"^# runtime-only: ([\w-]+)", text, re.M)
    assert expect, f"{path.name} has no '# expect:' header"
    return expect.group(1), runtime.group(1) if runtime else None


DESIGNS = sorted(p for p in BAD.iterdir() if p.suffix in (".py", ".json"))
EXPECT = {p.name: expectation(p) for p in DESIGNS}
STATIC_DESIGNS = [n for n, (e, _) in EXPECT.items() if e in STATIC_CATEGORIES]
RUNTIME_DESIGNS = [n for n, (e, _) in EXPECT.items() if e not in STATIC_CATEGORIES]
CONTAINED_DESIGNS = [n for n, (_, r) in EXPECT.items() if r]


def small_config(cache: Path, **changes) -> CheckConfig:
    """The bad designs fail early, so a smaller reference shape keeps the suite quick."""
    return CheckConfig(
        d_model=64,
        seq_len=64,
        batch_size=4,
        train_steps=12,
        timeout_s=20,
        memory_limit_mb=2048,
        max_file_mb=16,
        cache_dir=str(cache),
    ).replace(**changes)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> CheckConfig:
    return small_config(tmp_path_factory.getbasetemp() / "checker-cache")


def check_all(
    names: list[str], config: CheckConfig, stages: tuple[str, ...]
) -> dict[str, tuple[CheckReport, float]]:
    def one(name: str) -> tuple[str, CheckReport, float]:
        start = time.monotonic()
        _, report = check_path(BAD / name, config, stages=stages)
        return name, report, time.monotonic() - start

    with ThreadPoolExecutor(max_workers=2) as pool:
        return {name: (report, seconds) for name, report, seconds in pool.map(one, names)}


def test_the_suite_has_40_designs_and_covers_every_category():
    assert len(DESIGNS) >= 40
    assert {e for e, _ in EXPECT.values()} == set(CATEGORIES)
    assert len(CONTAINED_DESIGNS) >= 10


@pytest.mark.parametrize("name", STATIC_DESIGNS)
def test_static_stage_rejects(name, config):
    expect, _ = EXPECT[name]
    _, report = check_path(BAD / name, config, stages=("static",))
    assert not report.passed
    assert report.category == expect, report.format_text()
    if expect != "syntax":
        assert report.errors[0].unit is not None


@pytest.fixture(scope="module")
def runtime_reports(config):
    return check_all(RUNTIME_DESIGNS, config, ("static", "runtime"))


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNTIME_DESIGNS)
def test_runtime_stage_rejects(name, runtime_reports, config):
    expect, _ = EXPECT[name]
    report, seconds = runtime_reports[name]
    assert report.stages["static"].passed, report.format_text()
    assert not report.passed
    assert report.category == expect, report.format_text()
    assert report.sandbox, "the runtime checks must say how they were isolated"
    # A hung or crashing design still ends in a report, within the wall clock plus the clean-up.
    assert seconds < config.timeout_s + 20


@pytest.fixture(scope="module")
def contained_reports(config):
    previous = os.environ.get("GENESYS_TEST_SECRET")
    os.environ["GENESYS_TEST_SECRET"] = SECRET  # what an API key in the worker's environment looks like
    try:
        return check_all(CONTAINED_DESIGNS, config, ("runtime",))
    finally:
        if previous is None:
            del os.environ["GENESYS_TEST_SECRET"]
        else:
            os.environ["GENESYS_TEST_SECRET"] = previous


@pytest.mark.slow
@pytest.mark.parametrize("name", CONTAINED_DESIGNS)
def test_sandbox_contains_what_the_static_stage_would_have_stopped(name, contained_reports):
    _, expect = EXPECT[name]
    report, _ = contained_reports[name]
    assert not report.passed
    assert report.category == expect, report.format_text()
    assert SECRET not in json.dumps(report.to_dict())
    assert not Path("/var/tmp/genesys-bad-design.txt").exists()
