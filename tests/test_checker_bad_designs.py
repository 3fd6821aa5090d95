"""Every design in tests/bad_designs/ is broken in one way and must be rejected with that category.

Each file says what it expects in its header (`# expect: <category>`); files that the static stage
rejects and that would do harm if they ran also say what the sandbox makes of them when the static
stage is skipped (`# runtime-only: <category>`), which shows the second and third layers holding.
A design judged under settings other than the defaults says so (`# config: unused_parameters=error`).
Runtime checks run two at a time (two cores); every design is really checked, in its own sandbox.

The harmful designs aim at a canary on the host (CANARY, outside the sandbox's view): after each
contained batch, under bubblewrap and (for the designs that aim at it) with the audit hooks and
rlimits alone, it must not exist.
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
CANARY = Path("/var/tmp/genesys-bad-design.txt")


def expectation(path: Path) -> tuple[str, str | None]:
    if path.suffix == ".json":
        meta = json.loads(path.read_text())["metadata"]
        return meta["expect"], meta.get("runtime-only")
    text = path.read_text()
    expect = re.search(r"^# expect: ([\w-]+)", text, re.M)
    runtime = re.search(r"^# runtime-only: ([\w-]+)", text, re.M)
    assert expect, f"{path.name} has no '# expect:' header"
    return expect.group(1), runtime.group(1) if runtime else None


def settings(path: Path) -> dict[str, str]:
    """`# config: key=value ...`: the CheckConfig fields this design is judged under."""
    found = re.search(r"^# config: (.+)$", path.read_text(), re.M) if path.suffix == ".py" else None
    return dict(item.split("=", 1) for item in found.group(1).split()) if found else {}


DESIGNS = sorted(p for p in BAD.iterdir() if p.suffix in (".py", ".json"))
EXPECT = {p.name: expectation(p) for p in DESIGNS}
SETTINGS = {p.name: settings(p) for p in DESIGNS}
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
        _, report = check_path(BAD / name, config.replace(**SETTINGS[name]), stages=stages)
        return name, report, time.monotonic() - start

    with ThreadPoolExecutor(max_workers=2) as pool:
        return {name: (report, seconds) for name, report, seconds in pool.map(one, names)}


def test_the_suite_has_80_designs_and_covers_every_category():
    assert len(DESIGNS) >= 80
    # 'not-learning' has no design of its own since the mixing stage runs first: a block that erases
    # its input (the old example) now fails as no-mixing, and a block that mixes lets the tied head
    # learn. A design that mixes yet cannot learn is still to be written.
    assert {e for e, _ in EXPECT.values()} == set(CATEGORIES) - {"not-learning"}
    assert len(CONTAINED_DESIGNS) >= 25 and len(CANARY_DESIGNS) >= 15


@pytest.mark.parametrize("name", STATIC_DESIGNS)
def test_static_stage_rejects(name, config):
    expect, _ = EXPECT[name]
    _, report = check_path(BAD / name, config.replace(**SETTINGS[name]), stages=("static",))
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


CANARY_DESIGNS = [n for n in CONTAINED_DESIGNS if str(CANARY) in (BAD / n).read_text()]


def contained(names: list[str], config: CheckConfig, env: dict[str, str]) -> dict[str, tuple[CheckReport, float, bool]]:
    """Runtime-only checks of `names` (static stage skipped), with a secret in the environment, and
    whether the host canary exists afterwards (checked once for the batch, which runs two at a time)."""
    previous = {k: os.environ.get(k) for k in ["GENESYS_TEST_SECRET", *env]}
    os.environ["GENESYS_TEST_SECRET"] = SECRET  # what an API key in the worker's environment looks like
    os.environ.update(env)
    CANARY.unlink(missing_ok=True)
    try:
        reports = check_all(names, config, ("runtime",))
        canary = CANARY.exists()
    finally:
        CANARY.unlink(missing_ok=True)
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {name: (report, seconds, canary) for name, (report, seconds) in reports.items()}


@pytest.fixture(scope="module")
def contained_reports(config):
    return contained(CONTAINED_DESIGNS, config, {})


@pytest.fixture(scope="module")
def contained_rlimit_reports(config):
    # The rlimit-only mode runs only with the operator's switch (docs/SANDBOX.md, "Fail closed").
    return contained(CANARY_DESIGNS, config.replace(sandbox="rlimit"), {"GENESYS_UNSAFE_NO_SANDBOX": "1"})


def assert_contained(name: str, result: tuple[CheckReport, float, bool]) -> None:
    _, expect = EXPECT[name]
    report, _, canary = result
    assert not canary, f"a design of this batch (rerun {name} alone) wrote {CANARY} on the host"
    assert not report.passed
    assert report.category == expect, report.format_text()
    assert SECRET not in json.dumps(report.to_dict())


@pytest.mark.slow
@pytest.mark.parametrize("name", CONTAINED_DESIGNS)
def test_sandbox_contains_what_the_static_stage_would_have_stopped(name, contained_reports):
    assert_contained(name, contained_reports[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", CANARY_DESIGNS)
def test_audit_hooks_and_rlimits_alone_contain_it_too(name, contained_rlimit_reports):
    """Without bubblewrap the host's /var/tmp is in reach: only the audit hook stands in the way."""
    assert contained_rlimit_reports[name][0].sandbox.startswith("rlimit-only")
    assert_contained(name, contained_rlimit_reports[name])
