"""The audit hook inside `verify`'s sandboxed child: a design that reaches out of its run folder or for
the network is refused and its run fails with `sandbox-violation`, while honest runs (training,
lm-eval, the screen's probes) give the same numbers as without the hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from sandbox_support import bubblewrap, needs_bubblewrap  # noqa: F401 - fixtures

from verifier.core.checker.guard import Guard
from verifier.core.seeds import load_seed
from verifier.core.train.guarded import VIOLATION, judge
from verifier.core.train.verify import verify_design

REPO = Path(__file__).resolve().parent.parent
TROJAN = REPO / "tests" / "verify_designs" / "trojan_verify_guard_after_5_calls.py"
SMALL = ("--set", "corpus=corpora/tinyshakespeare")
PROBES_SMALL = ("--set", "train_tokens=2048", "--set", "val_tokens=1024",
                "--set", 'probe_config={"steps": 4, "batch_size": 4, "test_size": 8, "seq_len": 32}')


def verify(design: str | Path, out: Path, data_dir: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "verifier.core", "verify", str(design), "--out", str(out), "--data-dir",
           str(data_dir), "--quiet", *SMALL, *extra]
    env = {**os.environ, "GENESYS_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
    env.pop("GENESYS_UNSAFE_NO_SANDBOX", None)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def untimed(curve: list[dict]) -> list[dict]:
    return [{k: v for k, v in point.items() if not k.endswith("_s")} for point in curve]


def sandbox_warnings(report: dict) -> list[str]:
    return [w for w in report["warnings"] if w.startswith("sandbox")]


# ---- the verdict -----------------------------------------------------------------------------------
def test_no_refusal_is_no_verdict():
    assert judge([]) == (None, [])


def test_a_refusal_with_design_code_on_the_stack_fails_the_run():
    failure, warnings = judge([
        {"event": "open", "reason": "reading /etc/hostname", "frames": []},
        {"event": "open", "reason": "writing /x/outside.txt", "frames": [[12, "_forward"], [30, "_escape"]]},
        {"event": "socket.__new__", "reason": "socket.__new__", "frames": [[31, "_escape"]]},
    ])
    assert failure is not None and failure["category"] == VIOLATION == "sandbox-violation"
    assert "writing /x/outside.txt" in failure["message"] and "line 30 (_escape)" in failure["message"]
    assert "2 refused attempt(s)" in failure["message"]
    assert warnings == ["sandbox: the audit hook refused reading /etc/hostname (trusted code, no design code on the stack)"]


def test_refusals_by_trusted_code_alone_are_warnings_and_capped():
    records = [{"event": "open", "reason": f"reading /r{i % 8}", "frames": []} for i in range(40)]
    failure, warnings = judge(records)
    assert failure is None
    assert len(warnings) == 6 and warnings[-1] == "sandbox: 3 more refused attempts by trusted code"


def test_allowed_events_are_the_verifiers_only():
    checker = Guard([], [], lambda record: None)
    verifier = Guard([], [], lambda record: None, allowed_events=("pickle.find_class", "os.putenv"))
    assert checker._reason("pickle.find_class", ("os", "system")) == "pickle.find_class"
    assert checker._reason("os.putenv", ("LD_PRELOAD", "x")) == "os.putenv"
    assert verifier._reason("pickle.find_class", ("os", "system")) is None
    assert verifier._reason("os.putenv", ("LD_PRELOAD", "x")) is None
    assert verifier._reason("os.system", ("id",)) == "os.system"  # what is not named stays refused
    assert verifier._reason("socket.__new__", ()) == "socket.__new__"


# ---- in the sandbox ------------------------------------------------------------------------------
@pytest.mark.timeout(600)
@needs_bubblewrap
def test_a_design_that_writes_outside_or_opens_a_socket_is_refused_by_the_hook(tmp_path, genesys_data_dir):
    out = tmp_path / "run"
    done = verify(TROJAN, out, genesys_data_dir, tmp_path / "cache", "--rung", "test", "--no-eval",
                  "--train-tokens", "4096")
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    fired = (out / "trojan_guard_fired.txt").read_text()
    # refused by the hook itself (PermissionError "sandbox: ..."), before bubblewrap's mounts would
    assert "open: PermissionError: sandbox: writing" in fired, fired
    assert "socket: PermissionError: sandbox: socket" in fired, fired
    assert not (tmp_path / "outside.txt").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["sandbox"] == "bubblewrap" and report["status"] == "failed"
    assert report["failure"]["category"] == "sandbox-violation"
    assert "writing" in report["failure"]["message"] and "2 refused attempt(s)" in report["failure"]["message"]
    assert report["fitness"] is None and report["loss_curve"]  # the run went on; the verdict is the hook's


@pytest.mark.slow
@pytest.mark.timeout(900)
@needs_bubblewrap
def test_evaluation_under_the_hook_gives_the_numbers_of_a_run_without_it(tmp_path, genesys_data_dir):
    guarded = tmp_path / "guarded"
    done = verify("gpt", guarded, genesys_data_dir, tmp_path / "cache", "--rung", "test")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads((guarded / "report.json").read_text())
    assert report["sandbox"] == "bubblewrap" and report["status"] == "done"
    assert sandbox_warnings(report) == []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plain = verify_design(load_seed("gpt"), "test", tmp_path / "plain", genesys_data_dir,
                              cache_dir=str(tmp_path / "cache2"), show_bar=False, corpus="corpora/tinyshakespeare")
    finally:
        torch.set_num_threads(threads)
    assert plain.status == "done"
    assert untimed(report["loss_curve"]) == untimed(plain.loss_curve) and len(plain.loss_curve) > 1
    assert report["val_loss"] == plain.val_loss
    assert report["eval"] and report["eval"] == json.loads(json.dumps(plain.eval))
    assert report["fitness"] == plain.fitness


@pytest.mark.slow
@pytest.mark.timeout(900)
@needs_bubblewrap
def test_the_screen_and_its_probes_run_under_the_hook(tmp_path, genesys_data_dir):
    out = tmp_path / "screen"
    done = verify("gpt", out, genesys_data_dir, tmp_path / "cache", "--rung", "screen", "--no-eval", *PROBES_SMALL)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "done" and report["sandbox"] == "bubblewrap"
    assert sandbox_warnings(report) == []
    assert len([n for n in report["components"] if n.startswith("probe_")]) == 6
    assert report["fitness"] is not None


@pytest.mark.slow
@pytest.mark.timeout(900)
@needs_bubblewrap
def test_an_interrupted_run_resumes_under_the_hook(tmp_path, genesys_data_dir):
    """The resumed run loads its own checkpoint (torch.load unpickles: let through in the verifier)."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    options = ("--rung", "test", "--no-eval", "--train-tokens", "8192", "--set", "checkpoint_every_steps=2")
    first = verify("gpt", out, genesys_data_dir, cache, *options, "--set", "stop_after_step=3")
    assert first.returncode == 3, first.stdout + first.stderr[-3000:]
    assert (out / "checkpoint.pt").exists()
    second = verify("gpt", out, genesys_data_dir, cache, *options)
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "done" and report["config"]["train"]["resumed_from_step"] == 2
    assert sandbox_warnings(report) == []
