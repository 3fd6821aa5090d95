"""The screen (the cheap first stage): its score from raw components, `python -m verifier.core
screen` with a design that passes next to one that fails part-way, and `verify --rung screen`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.core.screen.components import orient, raw_of
from verifier.core.screen.run import rescore, screen_designs
from verifier.core.screen.score import screen_score
from verifier.core.seeds import load_seed
from verifier.core.train.ladder import LADDER, MICRO, get_rung
from verifier.core.train.report import VerificationReport

REPO = Path(__file__).resolve().parent.parent
SMALL = [
    "--set", "corpus=corpora/tinyshakespeare", "--set", "train_tokens=2048", "--set", "val_tokens=1024",
    "--set", 'probe_config={"steps": 4, "batch_size": 4, "test_size": 8, "seq_len": 32}',
]


def failing_design(path: Path, after_calls: int) -> Path:
    """The GPT seed with a root unit that raises after `after_calls` forward calls (in the probes)."""
    tree = load_seed("gpt")
    root = tree.units[tree.root]
    marker = "def _forward(self, X, **Z):"
    assert marker in root.code
    root.code = root.code.replace(marker, marker + (
        "\n        type(self).calls = getattr(type(self), 'calls', 0) + 1"
        f"\n        if type(self).calls > {after_calls}:"
        "\n            raise RuntimeError('gave up after some forward calls')"), 1)
    path.write_text(tree.to_json())
    return path


def test_score_is_recomputed_from_raw_numbers_not_from_written_values():
    raw = {
        "probe_a": {"accuracy": 0.5, "chance": 0.25, "stderr": 0.02},
        "probe_b": {"accuracy": 0.25, "chance": 0.25, "stderr": 0.0},
        "lm_bpb": {"bpb": 1.9, "val_loss": 4.0},
    }
    comps = orient(raw, noise={"probe_b": 0.05}, reference_bpb=2.0)
    assert comps["probe_a"]["value"] == pytest.approx(1 / 3)  # (0.5 - 0.25) / 0.75
    assert comps["probe_b"]["value"] == 0 and comps["probe_b"]["stderr"] == pytest.approx(0.05 / 0.75)
    assert comps["lm_bpb"]["value"] == pytest.approx(0.5)  # 10 x 5% better than the reference
    assert comps["probe_a"]["weight"] == comps["probe_b"]["weight"] == 0.25 and comps["lm_bpb"]["weight"] == 0.5
    score, _ = screen_score(comps)
    assert score == pytest.approx((0.25 / 3 + 0.5 * 0.5) / 1.0)
    tampered = {name: {**c, "value": 99.0, "weight": 99.0} for name, c in comps.items()}
    assert orient(raw_of(tampered), noise={"probe_b": 0.05}, reference_bpb=2.0) == comps
    # without a reference bpb the LM component drops out instead of guessing
    assert orient(raw, reference_bpb=None)["lm_bpb"]["weight"] == 0


def test_score_of_nothing_usable_is_none():
    assert screen_score({}) == (None, None)
    assert screen_score(orient({"probe_a": {"accuracy": math.nan, "chance": 0.5}})) == (None, None)


def test_screen_is_the_first_rung_with_four_times_micros_budget(capsys):
    from verifier.core.__main__ import main

    rung = get_rung("screen")
    assert next(iter(LADDER)) == "screen" and rung.kind == "screen" and MICRO.kind == "train"
    assert rung.budget == 4 * MICRO.budget
    assert rung.to_dict()["kind"] == "screen"
    assert main(["ladder"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("screen")


def test_a_design_past_its_wall_limit_is_a_timeout_and_others_are_kept(tmp_path):
    result = screen_designs(["gpt"], tmp_path, timeout_s=0.2)
    (entry,) = result["designs"]
    assert entry["score"] is None and entry["failure"]["category"] == "timeout"
    assert json.loads((tmp_path / "screen.json").read_text()) == result


@pytest.mark.slow
def test_screen_cli_scores_one_design_and_fails_another_part_way(tmp_path, genesys_data_dir):
    """One run of the real CLI: the GPT seed passes, its copy that raises in the probes fails, a
    missing file is a usage failure; screen.json has exactly the promised shape."""
    bad = failing_design(tmp_path / "bad.json", after_calls=40)
    out = tmp_path / "out"
    env = {**os.environ, "GENESYS_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "verifier.core", "screen", "gpt", str(bad), str(tmp_path / "nope.json"),
           "--out", str(out), "--data-dir", str(genesys_data_dir), "--no-eval", *SMALL]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, done.stdout + done.stderr
    screen = json.loads((out / "screen.json").read_text())
    assert list(screen) == ["designs"]
    good, failed, missing = screen["designs"]
    for entry in screen["designs"]:
        assert list(entry) == ["design", "score", "stderr", "components", "failure"]
    assert [good["design"], failed["design"], missing["design"]] == ["gpt", str(bad), str(tmp_path / "nope.json")]

    assert good["failure"] is None and isinstance(good["score"], float) and good["stderr"] >= 0
    probes = [n for n in good["components"] if n.startswith("probe_")]
    assert len(probes) == 6 and "lm_bpb" in good["components"]
    for comp in good["components"].values():
        assert {"value", "stderr", "weight"} <= set(comp)
    assert good["components"]["lm_bpb"]["bpb"] > 0

    assert failed["score"] is None and failed["failure"]["category"] == "runtime_error"
    assert "gave up after some forward calls" in failed["failure"]["message"]
    assert missing["score"] is None and missing["failure"]["category"] == "design_error"
    assert "nope.json" in missing["failure"]["message"]

    # the passing design's folder holds the report `verify --rung screen` wrote
    report = VerificationReport.read(next(out.glob("000-*")) / "report.json")
    assert report.ok and report.rung == "screen" and report.val_bpb and report.val_bpb > 0
    assert report.fitness == pytest.approx(rescore(report.components)[1])
    assert report.fitness == pytest.approx(good["score"])
    assert {"train", "validate", "probes", "total"} <= set(report.wall_time_s)
    child = json.loads((next(out.glob("000-*")) / "child.json").read_text())
    assert child["returncode"] == 0 and child["cpu_s"] > 0


@pytest.mark.parametrize("name", ["gpt", "mamba2", "retnet", "rwkv6", "ttt"])
def test_every_seed_fits_the_screen_rungs_window(name):
    from verifier.core.gau import compose, load_gab
    from verifier.core.train.autotune import fit_to_rung

    rung = get_rung("screen")
    gab, config = load_gab(compose(load_seed(name)), name)
    size = fit_to_rung(gab, config, rung, vocab_size=32000)
    assert math.isclose(size.params, rung.target_params, rel_tol=rung.size_tolerance)
