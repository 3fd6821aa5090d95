"""The seed-and-parent rule (evolution.core.eligibility), without a database."""

from __future__ import annotations

import pytest

from evolution.core.eligibility import PARENT, SEED, DesignFacts, why_not


@pytest.mark.parametrize("status", ["checked", "verifying", "verified"])
@pytest.mark.parametrize("role", [SEED, PARENT])
def test_a_checked_design_may_be_built_on(status, role):
    assert why_not(DesignFacts("GatedGPT", status), role) is None


@pytest.mark.parametrize(("status", "words"), [
    ("invalid", "invalid (it failed the checker)"), ("failed", "implementation failed"),
    ("unchecked", "never checked"), ("proposed", "only a proposal"), ("implementing", "still being implemented"),
    ("", "status is unknown"), ("mystery", "status is mystery"),
])
@pytest.mark.parametrize("role", [SEED, PARENT])
def test_a_status_that_cannot_be_built_on_is_refused_with_the_reason(status, words, role):
    reason = why_not(DesignFacts("X", status), role)
    assert reason is not None and reason.startswith(f"X cannot be a {role}: ") and words in reason


def test_a_veto_is_refused_with_its_reason_and_wins_over_a_good_status():
    reason = why_not(DesignFacts("X", "verified", vetoed=True, veto_reason="copies its parent"), SEED)
    assert reason == "X cannot be a seed: it is vetoed (“copies its parent”)"
    assert why_not(DesignFacts("X", "invalid", vetoed=True), PARENT) == "X cannot be a parent: it is vetoed"


def test_no_tree_and_demo_designs_are_refused():
    assert "no GAU tree" in why_not(DesignFacts("X", "checked", has_tree=False), SEED)
    assert "demo history" in why_not(DesignFacts("X", "verified", demo=True), PARENT)


def test_an_unknown_role_is_a_programming_error():
    with pytest.raises(ValueError, match="role must be"):
        why_not(DesignFacts("X", "checked"), "grandparent")
