"""Checked means checked (issue #13): nothing is stored as checked unless a check ran and passed.
A design nobody checked is stored as `unchecked` with the reason; a checker that cannot run, a report
without a verdict, an observer reply that cannot be read and a failing reference all fail closed.
(The failing reference is in test_checker_runtime.py, next to the other reference tests.)"""

from __future__ import annotations

import copy
import os
import random
from pathlib import Path

import pytest

from designer.core.checking import CheckerUnavailable, load_checker, run_check
from designer.core.config import ROLES, DesignerConfig, RoleSettings
from designer.core.gp_designer import gp_design
from designer.core.pipeline import design
from designer.core.replay_server import ReplayServer, load_replies, point_config_at
from designer.core.result import DesignerResult
from verifier.core.checker.sandbox import SandboxUnavailable
from verifier.core.seeds import load_seed

REPLIES = Path(__file__).parent / "data" / "llm_replies"


def a_checker_that_cannot_start(tree, **kwargs):
    """What run_checks does on a host whose sandbox refuses to start with sandbox="bubblewrap"."""
    raise SandboxUnavailable("bubblewrap cannot create namespaces here")


def test_a_gp_design_with_the_checker_switched_off_is_unchecked_with_the_reason():
    result = gp_design([load_seed("gpt")], "mutation", rng=random.Random(3), check=False)
    assert result.tree is not None and result.status == "unchecked"
    assert result.failure == "not checked: the checker was switched off (checker ablation)"
    assert result.check_report is None and result.metrics["valid"] is None


def test_a_gp_design_whose_checker_cannot_start_is_unchecked_not_checked():
    result = gp_design([load_seed("gpt")], "mutation", rng=random.Random(3), checker=a_checker_that_cannot_start)
    assert result.status == "unchecked"
    assert "sandbox does not work" in result.failure and "bubblewrap cannot create namespaces" in result.failure


def test_the_one_wrapper_raises_when_no_check_can_run_and_never_defaults_to_passed():
    with pytest.raises(CheckerUnavailable, match="sandbox does not work"):
        run_check(load_seed("gpt"), a_checker_that_cannot_start)
    no_verdict = run_check(load_seed("gpt"), lambda tree, **kw: {"findings": []})
    assert no_verdict.passed is False and no_verdict.report["passed"] is False
    crashed = run_check(load_seed("gpt"), lambda tree, **kw: 1 / 0)
    assert crashed.passed is False and crashed.errors[0]["category"] == "checker"
    assert "ZeroDivisionError" in crashed.errors[0]["message"]


def test_the_evolution_app_uses_the_same_wrapper():
    from evolution.services import checks

    assert checks.CheckerUnavailable is CheckerUnavailable
    assert checks.run_checker.__module__ == "evolution.services.checks"
    assert checks.checker_available() is True


def _result(status: str, report: dict | None, failure: str | None = None) -> DesignerResult:
    tree = load_seed("gpt")
    tree.name = f"fail-closed-{status}-{random.random():.6f}"
    return DesignerResult(mode="mutation", parents=[], origin={"kind": "gp"}, status=status, tree=tree,
                          name=tree.name, check_report=report, failure=failure)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "report", "stored", "reason"),
    [
        ("implemented", {"passed": True, "findings": []}, "checked", ""),
        ("implemented", {"passed": False, "findings": []}, "invalid", ""),
        ("implemented", None, "unchecked", "not checked: the designer handed back no check report"),
        ("implemented", {"findings": []}, "invalid", ""),  # a report with no verdict never passes
        ("unchecked", None, "unchecked", "not checked: the checker was switched off (checker ablation)"),
        ("failed", {"passed": False}, "invalid", ""),
    ],
)
def test_stored_status_follows_the_check_not_a_default(status, report, stored, reason):
    from evolution.services.designs import create_design_from_result

    failure = reason if status == "unchecked" else None
    design = create_design_from_result(_result(status, report, failure), [])
    assert design.status == stored
    assert design.failure == reason


@pytest.mark.slow
def test_an_observer_reply_that_cannot_be_read_does_not_accept_the_unit():
    """The malformed_replies scenario with every observer reply unreadable (the first and its two
    retries): the unit is rolled back, with the reason, instead of being kept unreviewed."""
    replies = load_replies(REPLIES / "malformed_replies")
    observer = [i for i, r in enumerate(replies) if r.source.endswith("_observer.json")]
    replies[observer[1]] = copy.deepcopy(replies[observer[0]])  # "novelty": "high", every time it is asked
    replies.insert(observer[1] + 1, copy.deepcopy(replies[observer[0]]))
    config = DesignerConfig(roles={r: RoleSettings(model="gpt-4.1") for r in ROLES})
    os.environ.setdefault("GENESYS_TEST_REPLAY_KEY", "replay-key-not-real")
    with ReplayServer(replies) as server:
        point_config_at(server, config, kind="openai", key_env="GENESYS_TEST_REPLAY_KEY", max_retries=0)
        result = design([load_seed("gpt")], "mutation", config, checker=load_checker())
    assert result.status != "implemented"
    reviewed = [e for e in result.trace if e.get("observer_error")]
    assert reviewed, result.trace
    entry = reviewed[-1]
    assert "unit not accepted" in entry["observer_error"] and entry["rolled_back"] and not entry["passed"]
    assert any(f["category"] == "observer" and "could not be read" in f["message"] for f in entry["findings"])
    assert "the model provider failed" in result.failure  # the replay had no coder reply for a retry
