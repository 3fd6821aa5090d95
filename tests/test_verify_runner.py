"""A verification runs as a child process: its progress is followed, its report read, and a child
that hangs or dies becomes an outcome with a failure category, never a stuck worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evolution.core.verify_runner import child_env, run_verification
from verifier.core.seeds import load_seed


@pytest.fixture
def gpt_json(tmp_path) -> Path:
    path = tmp_path / "gpt.json"
    path.write_text(load_seed("gpt").to_json())
    return path


def test_child_environment_carries_no_secrets(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    monkeypatch.setenv("GENESYS_DATA_DIR", "/data")
    env = child_env()
    assert "ANTHROPIC_API_KEY" not in env and env["GENESYS_DATA_DIR"] == "/data"


def test_a_verification_past_its_time_limit_is_killed_and_reported(gpt_json, tmp_path, genesys_data_dir):
    outcome = run_verification(gpt_json, "test", tmp_path / "run", data_dir=genesys_data_dir, timeout_s=3)
    assert outcome.status == "failed"
    assert outcome.failure["category"] == "timeout"
    assert outcome.wall_s < 30


def test_a_stop_request_interrupts_the_child(gpt_json, tmp_path, genesys_data_dir):
    outcome = run_verification(gpt_json, "test", tmp_path / "run", data_dir=genesys_data_dir,
                               should_stop=lambda: True, poll_s=0.2)
    assert outcome.status == "interrupted" and outcome.failure is None


def test_a_broken_design_file_fails_with_the_verifier_message(tmp_path, genesys_data_dir):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    outcome = run_verification(bad, "test", tmp_path / "run", data_dir=genesys_data_dir, timeout_s=120)
    assert outcome.status == "failed" and outcome.failure["category"] == "crash"
    assert "not valid JSON" in outcome.failure["message"]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_full_verification_streams_progress_and_returns_its_report(gpt_json, tmp_path, genesys_data_dir):
    events: list[dict] = []
    outcome = run_verification(gpt_json, "test", tmp_path / "run", data_dir=genesys_data_dir,
                               timeout_s=900, on_progress=events.append)
    assert outcome.status == "done", outcome.stderr_tail[-2000:]
    assert outcome.report["rung"] == "test" and outcome.report["fitness"] is not None
    steps = [e for e in events if e.get("event") == "step"]
    assert steps and all("loss" in e for e in steps)
    assert (tmp_path / "run" / "report.json").exists()
    assert os.path.getsize(tmp_path / "run" / "progress.jsonl") > 0
