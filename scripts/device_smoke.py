"""`device_bundle.py smoke`: the GPU check's two device calls, rehearsed on this CPU before a lent
machine's minutes are spent on them: a fresh copy of the working tree plus `.device`, this venv's
modules that the device image lacks hidden, tiny sizes and the `test` rung."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from device_bundle import BUNDLE, DEVICE_ENV, DEVICE_SET, FORCE, ROOT, check, closure, log
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

BLOCKER = '''"""Simulate the device's Python here: a module of a distribution that the device does not have
is importable only from PYTHONPATH (the carried wheels, the repo), never from this venv."""
import importlib.machinery, os, sys

_BLOCKED = set(%(blocked)r)
_ALLOWED = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != %(here)r]
if sys.path and sys.path[0] not in _ALLOWED:
    _ALLOWED.append(sys.path[0] or os.getcwd())


class _DeviceOnly:
    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if path is not None or fullname not in _BLOCKED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, _ALLOWED)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not on the device)", name=fullname)
        return spec


sys.meta_path.insert(0, _DeviceOnly)
'''


def device_modules_blocked() -> set[str]:
    """Top-level modules of this venv that the device lacks: those of distributions that are neither on
    the device's list nor needed by one that is (as this venv's versions declare: a device package
    brings its own dependencies there, e.g. huggingface-hub's http client)."""
    present = {canonicalize_name(d.metadata["Name"]): d for d in md.distributions()}
    allowed = {name for name in present if name in DEVICE_SET}
    todo = list(allowed)
    while todo:
        dist = present[todo.pop()]
        for text in dist.requires or []:
            req = Requirement(text)
            dep = canonicalize_name(req.name)
            if req.marker is not None and not req.marker.evaluate(DEVICE_ENV):
                continue
            if dep in present and dep not in allowed:
                allowed.add(dep)
                todo.append(dep)
    carried = set(closure()[0]) - FORCE
    if carried & allowed:  # then the smoke run would not prove that the wheels are complete
        raise SystemExit(f"device packages of this venv need carried ones: {sorted(carried & allowed)}")
    blocked = set()
    for module, dists in md.packages_distributions().items():
        if not any(canonicalize_name(d) in allowed for d in dists):
            blocked.add(module)
    return blocked


def smoke(modes: list[str], keep: bool) -> int:
    """A fresh copy of the working tree plus `.device`, run as the device would (CPU, smoke sizes): one
    `benchmarks/device_check.sh MODE` per mode, each with an emptied $OUT as the run tool does, and
    what each leaves in $OUT checked."""
    if check() != 0:
        return 1
    sim, outs, site, block = (
        Path("/tmp/devsim"),
        Path("/tmp/devsim-out"),
        Path("/tmp/devsim-site"),
        Path("/tmp/devsim-block"),
    )
    for path in (sim, outs, site, block, Path("/tmp/devsim-data"), Path("/tmp/devsim-cache")):
        shutil.rmtree(path, ignore_errors=True)
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(
        ["rsync", "-a", "--from0", "--files-from=-", f"{ROOT}/", f"{sim}/"], input=names, check=True
    )
    shutil.copytree(BUNDLE, sim / ".device")
    block.mkdir(parents=True)
    blocked = sorted(device_modules_blocked())
    (block / "sitecustomize.py").write_text(BLOCKER % {"blocked": blocked, "here": str(block)})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYS_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(
        DEVICE_CHECK_SMOKE="1",
        PYTHON=sys.executable,
        PYTHONPATH=str(block),
        DEVICE_SITE=str(site),
        DEVICE_DATA="/tmp/devsim-data",
        GENESYS_CACHE_DIR="/tmp/devsim-cache",
        OMP_NUM_THREADS="1",
    )  # this box is small and shared; the device does not set it
    log(f"smoke run in {sim}; {len(blocked)} modules of this venv hidden as the device lacks them")
    problems = []
    for mode in modes:
        out = outs / mode
        out.mkdir(parents=True)
        started = time.perf_counter()
        rc = subprocess.run(
            ["bash", "benchmarks/device_check.sh", mode], cwd=sim, env={**env, "OUT": str(out)}
        ).returncode
        files = sorted(p for p in out.rglob("*") if p.is_file())
        log(
            f"== smoke: device_check.sh {mode} exited {rc} after {time.perf_counter() - started:.0f} s; $OUT holds:"
        )
        for path in files:
            log(f"  {path.relative_to(out)}  {path.stat().st_size:,} bytes")
        problems += [f"{mode}: exit {rc}"] if rc != 0 else []
        if len(files) > 8 or any(not re.fullmatch(r"[A-Za-z0-9._-]+", p.name) for p in files):
            problems.append(f"{mode}: $OUT would not come back whole ({len(files)} files)")
        if mode in ("bench", "all"):
            doc = json.loads((out / "bench.json").read_text())
            rows = [r for rows in doc["rows"].values() for r in rows]
            if not rows or any("failure" in r or not r.get("tokens_per_s") for r in rows):
                problems.append(f"{mode}: bench rows missing or failed")
        if mode in ("e2e", "all"):
            doc = json.loads((out / "e2e.json").read_text()) if (out / "e2e.json").is_file() else {}
            if doc.get("status") != "done" or not doc.get("eval") or not (out / "e2e_report.json").is_file():
                problems.append(f"{mode}: the end-to-end run did not finish with an evaluation")
        if mode == "rank":
            doc = json.loads((out / "rank.json").read_text()) if (out / "rank.json").is_file() else {}
            measured = [n for n, row in doc.get("table", {}).items() if row.get("test") is not None]
            # of the smoke's 3 designs, mamba2 has no shape at the tiny `test` rung (sizing): 2 measure
            if len(measured) < 2 or not (out / "rank_evidence.tar.gz").is_file():
                problems.append(f"{mode}: fewer than 2 designs measured ({measured}) or no evidence archive")
    for problem in problems:
        log(f"SMOKE PROBLEM: {problem}")
    log("smoke OK" if not problems else "smoke FAILED")
    if not keep:
        shutil.rmtree(sim, ignore_errors=True)
    return 1 if problems else 0
