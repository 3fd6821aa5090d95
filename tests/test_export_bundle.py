"""Reproducibility bundles: one archive per verification that `verify --from-bundle` reruns, on the
same data only; a CPU rerun reproduces the loss curve."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from verifier.core.export.bundle import MEMBERS, BundleError, make_bundle, read_bundle, rerun_overrides
from verifier.core.export.data_manifest import build_manifest, check_manifest
from verifier.core.export.rerun import compare_curves
from verifier.core.seeds import load_seed
from verifier.core.train import VerificationReport, verify_design

REPO = Path(__file__).resolve().parent.parent
SMALL = {"corpus": "corpora/tinyshakespeare", "show_bar": False, "skip_eval": True, "train_tokens": 4 * 512,
         "val_tokens": 256}


@pytest.fixture(scope="module")
def run(tmp_path_factory, genesys_data_dir):
    run_dir = tmp_path_factory.mktemp("bundle-run")
    cache = str(tmp_path_factory.getbasetemp() / "genesys-cache")
    report = verify_design(load_seed("gpt"), "test", run_dir, genesys_data_dir, cache_dir=cache, seed=7, **SMALL)
    assert report.status == "done", report.error
    (run_dir / "design.json").write_text(load_seed("gpt").to_json())
    return run_dir


@pytest.fixture(scope="module")
def bundle(run, tmp_path_factory, genesys_data_dir):
    return make_bundle(run, tmp_path_factory.mktemp("bundle") / "gpt-test.tar.gz", data_dir=genesys_data_dir)


def test_bundle_holds_design_code_config_data_hashes_versions_seed_and_command(bundle, run):
    with tarfile.open(bundle) as tar:
        assert sorted(tar.getnames()) == sorted(MEMBERS)
    b = read_bundle(bundle)
    assert b.tree.content_hash() == load_seed("gpt").content_hash() and "class GAB(GABBase)" in b.composed
    assert b.manifest["seed"] == 7 and b.overrides["seed"] == 7 and b.overrides["train_tokens"] == 2048
    assert b.overrides["corpus"] == "corpora/tinyshakespeare" and b.overrides["val_tokens"] == 256  # a rung override
    assert "device" not in b.overrides and "cache_dir" not in b.overrides
    assert "--seed 7" in b.manifest["command"] and "--from-bundle gpt-test.tar.gz" in b.manifest["rerun"]
    assert b.config == VerificationReport.read(run).config
    roles = {row["role"] for row in b.data["files"]}
    assert roles == {"corpus", "tokenizer"}  # no evaluation ran: no task files
    assert all(len(row["sha256"]) == 64 and not row["path"].startswith("/") for row in b.data["files"])
    assert b.versions["run"]["torch"] and b.versions["bundled_by"]["python"]


@pytest.mark.slow
def test_cpu_rerun_from_bundle_reproduces_the_loss_curve(bundle, run, tmp_path, genesys_data_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO), "GENESYS_DATA_DIR": str(genesys_data_dir),
           "GENESYS_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "verifier.core", "verify", "--from-bundle", str(bundle),
                           "--out", str(tmp_path / "rerun"), "--device", "cpu", "--quiet"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "loss curve: 4 steps" in proc.stdout
    original, again = VerificationReport.read(run), VerificationReport.read(tmp_path / "rerun")
    assert len(again.loss_curve) == len(original.loss_curve) == 4
    for a, b in zip(original.loss_curve, again.loss_curve, strict=True):
        assert a["step"] == b["step"] and abs(a["loss"] - b["loss"]) <= 1e-4
    assert again.val_loss == pytest.approx(original.val_loss, abs=1e-4)
    assert again.data["hash"] == original.data["hash"] and again.seed == 7


def test_rerun_refuses_other_data(bundle, tmp_path, genesys_data_dir):
    fake = tmp_path / "data"
    (fake / "tokenizers" / "llama2").mkdir(parents=True)
    for name in ("tokenizer.model", "tokenizer_config.json"):
        (fake / "tokenizers" / "llama2" / name).write_bytes((genesys_data_dir / "tokenizers" / "llama2" / name).read_bytes())
    (fake / "tokenizers" / "llama2" / "tokenizer_config.json").write_text("{}")
    problems = check_manifest(read_bundle(bundle).data, fake, ("corpus", "tokenizer"))
    assert "changed: tokenizers/llama2/tokenizer_config.json" in problems
    assert "missing: corpora/tinyshakespeare/input.txt" in problems
    assert not [p for p in problems if "tokenizer.model" in p]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "verifier.core", "verify", "--from-bundle", str(bundle), "--out",
                           str(tmp_path / "out"), "--data-dir", str(fake)], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "differs from the bundle's data" in proc.stderr
    assert not (tmp_path / "out" / "report.json").exists()


def _tar(path: Path, members: dict[str, bytes], kind: bytes = tarfile.REGTYPE) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.type = len(payload), kind
            tar.addfile(info, io.BytesIO(payload))
    return path


def test_hostile_or_broken_bundles_are_refused(bundle, tmp_path):
    with tarfile.open(bundle) as tar:
        good = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    with pytest.raises(BundleError, match="unexpected member '../evil.py'"):
        read_bundle(_tar(tmp_path / "a.tar.gz", {**good, "../evil.py": b"import os"}))
    with pytest.raises(BundleError, match="lacks report.json"):
        read_bundle(_tar(tmp_path / "b.tar.gz", {k: v for k, v in good.items() if k != "report.json"}))
    tampered = json.loads(good["design.json"])
    tampered["units"][tampered["root"]]["code"] += "\n# changed\n"
    with pytest.raises(BundleError, match="does not hash"):
        read_bundle(_tar(tmp_path / "c.tar.gz", {**good, "design.json": json.dumps(tampered).encode()}))
    (tmp_path / "d.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(BundleError, match="not a readable bundle"):
        read_bundle(tmp_path / "d.tar.gz")
    proc = subprocess.run([sys.executable, "-m", "verifier.core", "verify", "--from-bundle", str(tmp_path / "d.tar.gz"),
                           "--out", str(tmp_path / "o")], env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "not a readable bundle" in proc.stderr


def test_overrides_keep_the_experiment_and_drop_the_machine(run):
    report = VerificationReport.read(run)
    overrides = rerun_overrides(report)
    assert {"device", "cache_dir", "show_bar", "threads"}.isdisjoint(overrides)
    assert overrides["skip_eval"] is True and overrides["seed"] == 7
    assert "lr" not in overrides  # the ladder's own value is not repeated


def test_curve_comparison_counts_missing_steps_and_handles_empty():
    a = [{"step": 1, "loss": 5.0}, {"step": 2, "loss": 4.0}]
    assert compare_curves(a, a).within(0.0)
    partial = compare_curves(a, [{"step": 1, "loss": 5.00005}])
    assert partial.missing_steps == 1 and not partial.within(1e-4)
    assert compare_curves([], []).max_abs_diff is None and not compare_curves([], []).within(1.0)


def test_manifest_of_an_evaluated_run_lists_the_task_files(genesys_data_dir):
    manifest = build_manifest({"corpus": "corpora/tinyshakespeare", "tokenizer": "tokenizers/llama2", "hash": "x"},
                              genesys_data_dir, with_eval=True)
    paths = {row["path"] for row in manifest["files"] if row["role"] == "eval"}
    assert "lm_eval_tasks/piqa_local.yaml" in paths and "eval/piqa/valid_labeled.jsonl" in paths
