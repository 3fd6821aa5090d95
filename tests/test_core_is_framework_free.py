"""Every `*/core` module imports in a fresh interpreter without pulling in a web framework."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORES = ("verifier/core", "designer/core", "evolution/core", "knowledge/core")
FRAMEWORKS = ("django", "celery", "channels", "rest_framework", "daphne", "kombu")


def core_modules() -> list[str]:
    modules = []
    for core in CORES:
        for path in sorted((REPO / core).rglob("*.py")):
            rel = path.relative_to(REPO).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts[-1] == "__main__":
                continue
            modules.append(".".join(parts))
    return modules


PROBE = """
import importlib, json, sys
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        failed[name] = "missing optional dependency " + str(exc.name)
frameworks = sorted(m for m in sys.modules if m.split(".")[0] in FRAMEWORKS)
print(json.dumps({"frameworks": frameworks, "failed": failed}))
""".replace("FRAMEWORKS", repr(FRAMEWORKS))


def test_there_are_core_modules_to_check():
    assert len(core_modules()) > 10


@pytest.mark.parametrize("core", CORES)
def test_core_imports_no_framework(core):
    modules = [m for m in core_modules() if m.startswith(core.replace("/", "."))]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *modules], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["frameworks"] == [], f"{core} imported {report['frameworks']}"
