"""`verify_design` and `python -m verifier.core verify` end to end on the small "test" rung:
train on Tiny Shakespeare, evaluate with lm-eval on the local tasks, write report and weights."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from verifier.core.gau import compose, load_gab
from verifier.core.seeds import load_seed
from verifier.core.train import VerificationReport, rung_fitness, verify_design
from verifier.core.train.autotune import build_model
from verifier.core.train.checkpoint import load_weights
from verifier.core.train.data import DataConfig, PackedSequences, load_token_stream
from verifier.core.train.trainer import validation_loss

REPO = Path(__file__).resolve().parent.parent
SMALL_CORPUS = "corpora/tinyshakespeare"

NAN_GAB = '''
import torch
from torch import nn
from verifier.core.gau.base import GABBase

class GAB(GABBase):
    """Fine at first, then a NaN: what a numerically broken design looks like to the trainer."""
    def __init__(self, embed_dim, block_loc, device=None, dtype=None, **kwargs):
        super().__init__(embed_dim, block_loc)
        self.proj = nn.Linear(embed_dim, embed_dim, device=device, dtype=dtype)
        self.calls = 0
    def _forward(self, X, **Z):
        self.calls += 1
        scale = float("nan") if self.calls > 6 else 1.0
        return X + self.proj(X) * scale

gab_config = {}
'''

BROKEN_GAB = '''
from verifier.core.gau.base import GABBase

class GAB(GABBase):
    def __init__(self, embed_dim, block_loc, device=None, dtype=None, **kwargs):
        super().__init__(embed_dim, block_loc)
        raise RuntimeError("this unit cannot be built")

gab_config = {}
'''


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "genesys-cache"


def small(cache_dir: Path, **overrides):
    return {"corpus": SMALL_CORPUS, "cache_dir": str(cache_dir), "show_bar": False, **overrides}


@pytest.mark.slow
def test_gpt_is_verified_end_to_end(tmp_path, genesys_data_dir, cache_dir):
    events: list[dict] = []
    report = verify_design(load_seed("gpt"), "test", tmp_path, genesys_data_dir, progress=events.append,
                           **small(cache_dir, eval_limits={"lambada_openai_local": 4}))
    assert report.status == "done", report.error
    assert report.failure is None

    saved = json.loads((tmp_path / "report.json").read_text())
    for key in ("design_hash", "rung", "config", "data", "seed", "loss_curve", "tokens_per_s", "mfu",
                "peak_memory_bytes", "wall_time_s", "eval", "fitness", "failure", "shape"):
        assert key in saved, key
    assert saved["design_hash"] == load_seed("gpt").content_hash()
    assert 0 < saved["cpu_seconds"] <= saved["wall_time_s"]["total"] * (os.cpu_count() or 1) + 1
    assert saved["data"]["hash"] and saved["data"]["corpus"] == SMALL_CORPUS
    assert VerificationReport.from_dict(saved).fitness == report.fitness

    # trained: the loss fell from ~ln(32000) and the held-out loss is in the same region
    curve = [p["loss"] for p in report.loss_curve]
    assert curve[0] > 9.5 and report.final_train_loss < curve[0] - 2.0
    assert report.val_loss is not None and report.val_loss < curve[0] - 2.0
    assert report.val_perplexity == pytest.approx(math.exp(report.val_loss))

    # evaluated: each task has an accuracy on `limit` examples, and the fitness is Equation 1
    assert set(report.eval) == {"piqa_local", "lambada_openai_local"}
    assert report.eval["piqa_local"]["samples"] == 10 and 0 <= report.eval["piqa_local"]["acc"] <= 1
    assert report.eval["piqa_local"]["acc_stderr"] is not None
    assert report.eval["lambada_openai_local"]["samples"] == report.eval["lambada_openai_local"]["limit"] == 4
    assert "perplexity" in report.eval["lambada_openai_local"]
    assert report.fitness == pytest.approx(rung_fitness(report.eval))

    # the weights reproduce the reported validation loss
    gab, config = load_gab(compose(load_seed("gpt")))
    model = build_model(gab, config, 32000, report.shape["d_model"], report.shape["n_block"], 128)
    load_weights(tmp_path / report.weights, model)
    stream = load_token_stream(DataConfig(corpus=SMALL_CORPUS), genesys_data_dir, cache_dir, log=lambda m: None)
    val = validation_loss(model, PackedSequences(stream.val, 128), torch.device("cpu"), max_sequences=4096 // 128)
    assert val == pytest.approx(report.val_loss, rel=1e-4)
    assert not (tmp_path / "checkpoint.pt").exists()  # removed after success

    # progress: phases in order and one event per step with the numbers a dashboard shows
    phases = [e["phase"] for e in events if e["event"] == "phase"]
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == [
        "data", "size", "train", "validate", "eval"]
    steps = [e for e in events if e["event"] == "step"]
    assert len(steps) == report.config["total_steps"]
    assert {"step", "total_steps", "loss", "tokens_per_s", "mfu", "eta_s"} <= set(steps[-1])
    assert steps[-1]["eta_s"] == 0 and events[-1]["event"] == "done"


@pytest.mark.slow
def test_interrupted_verification_resumes(tmp_path, genesys_data_dir, cache_dir):
    options = small(cache_dir, train_tokens=8 * 512, skip_eval=True, checkpoint_every_steps=2)
    first = verify_design(load_seed("gpt"), "test", tmp_path, genesys_data_dir, stop_after_step=5, **options)
    assert first.status == "interrupted" and len(first.loss_curve) == 5
    second = verify_design(load_seed("gpt"), "test", tmp_path, genesys_data_dir, **options)
    assert second.status == "done"
    assert second.config["train"]["resumed_from_step"] == 4
    assert [p["step"] for p in second.loss_curve] == list(range(1, 9))
    fresh = verify_design(load_seed("gpt"), "test", tmp_path / "fresh", genesys_data_dir, **options)
    assert second.loss_curve[-1]["loss"] == pytest.approx(fresh.loss_curve[-1]["loss"], abs=1e-4)


def test_missing_data_is_a_reported_failure(tmp_path):
    report = verify_design(load_seed("gpt"), "test", tmp_path, tmp_path / "no-data")
    assert report.status == "failed" and report.failure["category"] == "data_missing"
    assert "prepare-data" in report.failure["message"]
    assert json.loads((tmp_path / "report.json").read_text())["failure"]["category"] == "data_missing"


def test_numerically_broken_design_is_stopped_by_the_monitor(tmp_path, genesys_data_dir, cache_dir):
    report = verify_design(NAN_GAB, "test", tmp_path, genesys_data_dir, **small(cache_dir, skip_eval=True))
    assert report.status == "failed"
    assert report.failure["category"] == "nan_inf", report.error
    assert 2 <= report.failure["step"] <= 6  # a few steps in, not at the start
    assert report.fitness is None and report.weights is None


def test_design_that_cannot_be_built_is_a_design_error(tmp_path, genesys_data_dir, cache_dir):
    report = verify_design(BROKEN_GAB, "test", tmp_path, genesys_data_dir, **small(cache_dir, skip_eval=True))
    assert report.failure["category"] == "design_error"
    assert "cannot be built" in report.failure["message"]
    with pytest.raises(TypeError):
        verify_design(BROKEN_GAB, "test", tmp_path, genesys_data_dir, no_such_option=1)


def test_cli_verify_streams_progress_as_json_lines(tmp_path, genesys_data_dir, cache_dir):
    progress = tmp_path / "progress.jsonl"
    env = {**os.environ, "GENESYS_CACHE_DIR": str(cache_dir), "OMP_NUM_THREADS": "2"}
    cmd = [sys.executable, "-m", "verifier.core", "verify", "gpt", "--rung", "test", "--out", str(tmp_path / "out"),
           "--data-dir", str(genesys_data_dir), "--progress-jsonl", str(progress), "--no-eval", "--quiet",
           "--train-tokens", "2048", "--set", f"corpus={SMALL_CORPUS}"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in progress.read_text().splitlines()]
    assert sum(e["event"] == "step" for e in events) == 4
    assert events[-1]["event"] == "done" and events[-1]["status"] == "done"
    report = json.loads(Path(events[-1]["report"]).read_text())
    assert report["status"] == "done" and report["eval"] == {}
    assert "gpt at test: done" in done.stdout

    missing = subprocess.run([*cmd[:9], "--data-dir", str(tmp_path / "nothing"), "--no-eval", "--quiet"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1 and "data_missing" in missing.stdout
    status = subprocess.run([sys.executable, "-m", "verifier.core", "data-status", "--data-dir",
                             str(tmp_path / "nothing")], cwd=REPO, env=env, capture_output=True, text=True)
    assert status.returncode == 1 and "NO DATA" in status.stderr


def test_the_corpus_is_tokenised_once_into_the_shared_cache(tmp_path, genesys_data_dir):
    """The sandboxed tokenising child (which needs the design file to read the rung) fills the shared
    cache; the design's child then reads it and tokenises nothing privately."""
    shared = tmp_path / "shared-cache"
    env = {**os.environ, "GENESYS_CACHE_DIR": str(shared), "OMP_NUM_THREADS": "2"}
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "verifier.core", "verify", "gpt", "--rung", "test", "--out", str(out),
           "--data-dir", str(genesys_data_dir), "--no-eval", "--quiet", "--train-tokens", "1024",
           "--set", f"corpus={SMALL_CORPUS}"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "tokenising in the sandbox ended" not in done.stderr
    assert list(shared.glob("tokens/*/meta.json")), "the shared cache holds no tokenised corpus"
    assert not list((out / ".sandbox").glob("cache/tokens/*/meta.json")), "the design's child tokenised privately"


def test_two_verifies_sharing_a_fresh_cache_tokenise_once_and_neither_fails_to(tmp_path, genesys_data_dir):
    """The loop's workers share one cache. Each tokenising child gets the cache handed to its own uid,
    so two started together used to take it from each other (PermissionError, both tokenised
    privately); now the second waits for the first and finds its corpus."""
    shared = tmp_path / "shared-cache"
    env = {**os.environ, "GENESYS_CACHE_DIR": str(shared), "OMP_NUM_THREADS": "1"}
    runs = []
    for name in ("a", "b"):
        cmd = [sys.executable, "-m", "verifier.core", "verify", "gpt", "--rung", "test", "--out",
               str(tmp_path / name), "--data-dir", str(genesys_data_dir), "--no-eval", "--quiet",
               "--train-tokens", "512", "--set", f"corpus={SMALL_CORPUS}"]
        runs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True))
    for run in runs:
        out, err = run.communicate(timeout=400)
        assert run.returncode == 0, err[-3000:]
        assert "tokenising in the sandbox ended" not in err, err[-3000:]
    assert len(list(shared.glob("tokens/*/meta.json"))) == 1
    for name in ("a", "b"):
        assert not list((tmp_path / name / ".sandbox").glob("cache/tokens/*/meta.json")), f"{name} tokenised privately"
    assert not [p for p in shared.glob("tokens/.*") if p.is_dir()], "a half-written corpus was left behind"


def test_sigterm_handler_leaves_forked_pool_workers_to_exit_quietly():
    """The verify CLI turns SIGTERM into a checkpointing stop; the worker pools lm-eval forks inherit
    the handler, and ending the pool must not print a KeyboardInterrupt traceback per worker."""
    script = (
        "import multiprocessing, os, signal, time\n"
        "from verifier.core.train.signals import install_sigterm_as_interrupt\n"
        "install_sigterm_as_interrupt()\n"
        "pool = multiprocessing.get_context('fork').Pool(2)\n"
        "assert pool.map(abs, [-1, -2]) == [1, 2]\n"
        "time.sleep(0.5)  # the workers wait for work again\n"
        "pool.terminate(); pool.join()\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)\n"
        "except KeyboardInterrupt:\n"
        "    print('main process interrupted')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "main process interrupted" in done.stdout
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr
