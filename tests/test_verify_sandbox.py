"""`verify` runs a design's code only inside the sandbox, and the parent trusts nothing of the run
folder but a report that parses and names the right design and rung.

The trojans behave while the checker watches and misbehave during pre-training; each test looks
at the host's filesystem (not the sandbox's view) afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from sandbox_support import bubblewrap, needs_bubblewrap  # noqa: F401 - fixtures

from verifier.core.design_io import load_design
from verifier.core.sandbox import SandboxSpec, run_module
from verifier.core.seeds import load_seed
from verifier.core.train.contained import checked_report

REPO = Path(__file__).resolve().parent.parent
BAD = REPO / "tests" / "bad_designs"
SMALL_CORPUS = "corpora/tinyshakespeare"


def verify(design: str | Path, out: Path, data_dir: Path, cache: Path, *extra: str, env: dict | None = None,
           timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "verifier.core", "verify", str(design), "--out", str(out), "--data-dir",
           str(data_dir), "--no-eval", "--quiet", "--set", f"corpus={SMALL_CORPUS}", *extra]
    base = {**os.environ, "GENESYS_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "2", **(env or {})}
    return subprocess.run(cmd, cwd=REPO, env=base, capture_output=True, text=True, timeout=timeout)


def host_canaries(trojan: Path, out: Path) -> list[Path]:
    """Where the trojan tries to write, as paths on the host."""
    text = trojan.read_text()
    start = text.index("CANARIES = (")
    names = [line.strip().strip('",') for line in text[start:text.index(")", start)].splitlines()[1:]]
    paths = [Path(n) if n.startswith("/") else (out / n).resolve() for n in names]
    suffix = "trojan_verify_cuda_escaped.txt" if "cuda" in trojan.name else "trojan_verify_escaped.txt"
    return [*paths, Path(torch.__file__).parent.parent / suffix]


def assert_contained(trojan: Path, out: Path, fired: str, before: set[str]) -> None:
    assert (out / fired).exists(), "the trojan never fired: the test would prove nothing"
    attempts = (out / fired).read_text()
    assert "/tmp/genesys_trojan_verify" in attempts
    for canary in host_canaries(trojan, out):
        assert not canary.exists(), f"{canary} was written on the host"
    assert {p.name for p in out.parent.iterdir()} == before | {out.name}


@pytest.mark.slow
@pytest.mark.timeout(900)
@needs_bubblewrap
def test_a_trojan_that_fires_at_its_300th_call_leaves_nothing_outside_its_folder(tmp_path, genesys_data_dir):
    trojan = BAD / "trojan_verify_after_300_calls.py"
    out = tmp_path / "DIR"
    for canary in host_canaries(trojan, out):
        canary.unlink(missing_ok=True)
    before = {p.name for p in tmp_path.iterdir()}
    # micro: 16 blocks of the tiny design, so 20 steps make 320 forward calls
    done = verify(trojan, out, genesys_data_dir, tmp_path / "cache", "--rung", "micro", "--train-tokens", "40960")
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["sandbox"] == "bubblewrap" and report["status"] == "failed"
    assert report["failure"]["category"] == "sandbox-violation"  # the audit hook refused it too
    assert_contained(trojan, out, "trojan_verify_fired.txt", before | {"cache"})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="the payload waits for CUDA")
@needs_bubblewrap
def test_a_trojan_waiting_for_cuda_fires_on_a_gpu_host_and_stays_inside(tmp_path, genesys_data_dir):
    trojan = BAD / "trojan_verify_when_cuda.py"
    out = tmp_path / "DIR"
    for canary in host_canaries(trojan, out):
        canary.unlink(missing_ok=True)
    before = {p.name for p in tmp_path.iterdir()}
    done = verify(trojan, out, genesys_data_dir, tmp_path / "cache", "--rung", "test", "--train-tokens", "4096",
                  "--device", "cuda", "--no-compile")
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["sandbox"] == "bubblewrap" and "cpu" not in report["device"]
    assert report["failure"]["category"] == "sandbox-violation"  # the audit hook refused it too
    assert_contained(trojan, out, "trojan_verify_cuda_fired.txt", before | {"cache"})


def test_without_a_sandbox_no_design_code_runs(tmp_path, genesys_data_dir):
    """No bubblewrap on the PATH: the run fails with sandbox_unavailable before the design is loaded."""
    trojan = BAD / "trojan_verify_when_cuda.py"
    out = tmp_path / "DIR"
    done = verify(trojan, out, genesys_data_dir, tmp_path / "cache", "--rung", "test",
                  env={"PATH": "/nonexistent", "GENESYS_UNSAFE_NO_SANDBOX": ""}, timeout=120)
    assert done.returncode == 1
    assert "no sandbox" in done.stderr and "GENESYS_UNSAFE_NO_SANDBOX" in done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["failure"]["category"] == "sandbox_unavailable" and report["status"] == "failed"
    assert sorted(p.name for p in out.iterdir()) == ["design.json", "report.json"]


def test_the_operators_switch_runs_with_rlimits_only_and_every_report_says_so(tmp_path, genesys_data_dir):
    done = verify("gpt", tmp_path / "out", genesys_data_dir, tmp_path / "cache", "--rung", "test",
                  "--train-tokens", "1024", env={"PATH": "/nonexistent", "GENESYS_UNSAFE_NO_SANDBOX": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["sandbox"].startswith("rlimit-only (UNSAFE")
    assert "sandbox: rlimit-only (UNSAFE" in done.stdout


def test_a_report_for_another_design_or_rung_is_refused(tmp_path):
    gpt, retnet = load_seed("gpt"), load_seed("retnet")
    forged = {"design_name": "gpt", "design_hash": retnet.content_hash(), "rung": "micro", "status": "done",
              "fitness": 0.9}
    (tmp_path / "report.json").write_text(json.dumps(forged))
    report = checked_report(tmp_path, gpt, "tiny", 0)
    assert report.status == "failed" and report.failure["category"] == "report_invalid"
    assert "names design" in report.failure["message"] and "names rung" in report.failure["message"]
    (tmp_path / "report.json").write_text("{ not json")
    assert checked_report(tmp_path, gpt, "tiny", 0).failure["category"] == "report_invalid"
    (tmp_path / "report.json").write_text(json.dumps({**forged, "design_hash": gpt.content_hash(), "rung": "tiny"}))
    assert checked_report(tmp_path, gpt, "tiny", 0).status == "done"
    assert checked_report(tmp_path, gpt, "tiny", -9).failure["category"] == "report_invalid"


def test_a_report_that_is_a_link_is_not_followed(tmp_path):
    secret = tmp_path / "secret.json"
    gpt = load_seed("gpt")
    secret.write_text(json.dumps({"design_name": "gpt", "design_hash": gpt.content_hash(), "rung": "tiny",
                                  "status": "done"}))
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").symlink_to(secret)
    report = checked_report(run, gpt, "tiny", 0)
    assert report.failure["category"] == "report_invalid" and "no report" in report.failure["message"]


def test_the_design_hash_survives_the_trip_through_design_json():
    tree = load_design(str(BAD / "trojan_verify_after_300_calls.py"))
    from verifier.core.gau.tree import GAUTree

    assert GAUTree.from_json(tree.to_json()).content_hash() == tree.content_hash()


@needs_bubblewrap
def test_a_checkout_under_tmp_runs_in_bubblewrap(tmp_path):
    """The private /tmp is mounted before the binds: a checkout and a venv under /tmp stay visible."""
    assert str(tmp_path).startswith("/tmp/")
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / "verifier", checkout / "verifier", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    probe = ("from verifier.core.sandbox import bubblewrap_problem, resolve_mode; "
             "print(bubblewrap_problem()); print(resolve_mode()[1])")
    done = subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "-c", probe], cwd=checkout,
                          env={"PATH": os.environ["PATH"], "PYTHONPATH": str(checkout)},
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["None", "bubblewrap"], done.stderr[-2000:]
    # the whole package, from the copy under /tmp, with torch: `python -m verifier.core ladder`
    run = subprocess.run([sys.executable, "-c", "from verifier.core.sandbox import SandboxSpec, run_module; "
                          f"r = run_module(['ladder', '--json'], SandboxSpec(writable=[{str(tmp_path / 'w')!r}])); "
                          "print(r.mode, r.returncode); print(r.stderr[-1500:])"],
                         cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)},
                         capture_output=True, text=True, timeout=300)
    assert run.stdout.splitlines()[0] == "bubblewrap 0", run.stdout + run.stderr[-2000:]


@needs_bubblewrap
def test_a_module_run_sees_only_what_it_is_given(tmp_path):
    """No home folder, nothing of the checkout but the package (so no var/, no .env), no network, its own
uid, no secrets in the environment; the writable folders only."""
    readable, writable = tmp_path / "ro", tmp_path / "rw"
    readable.mkdir()
    (readable / "data.txt").write_text("shared")
    script = (
        "import os, socket, sys\n"
        "def can_read(p):\n"
        "    try:\n        open(p).read(1); return True\n    except OSError:\n        return False\n"
        "def can_write(p):\n"
        "    try:\n        open(p, 'w').write('x'); return True\n    except OSError:\n        return False\n"
        "def online():\n"
        "    try:\n        socket.create_connection(('1.1.1.1', 53), timeout=2); return True\n"
        "    except OSError:\n        return False\n"
        f"print(can_read({str(readable / 'data.txt')!r}), can_write({str(readable / 'x')!r}), "
        f"can_write({str(writable / 'x')!r}), os.path.exists({str(REPO / 'pyproject.toml')!r}), "
        f"os.path.exists({str(REPO / '.env.example')!r}), os.path.exists('/etc/shadow'), os.path.exists('/home'), "
        "online(), os.getuid() != 0, sorted(k for k in os.environ if 'KEY' in k or 'SECRET' in k))\n"
    )
    writable.mkdir()
    (writable / "probe.py").write_text(script)
    spec = SandboxSpec(read_only=[readable], writable=[writable])
    os.environ["GENESYS_TEST_SECRET_KEY"] = "not-for-children"
    try:
        result = run_module([], spec, timeout_s=120, module=str(writable / "probe.py"))
    finally:
        del os.environ["GENESYS_TEST_SECRET_KEY"]
    assert result.mode == "bubblewrap"
    assert result.stdout.strip() == "True False True False False False False False True []", result.stderr[-2000:]
    assert (writable / "x").stat().st_uid == os.getuid()  # handed back after the run
