"""The back-pressure decision (evolution.core.backpressure), without a database: when designing or
screening waits, why, for how long, and which fixes are offered, including the awkward cases."""

from __future__ import annotations

import pytest

from evolution.core.backpressure import SCREEN, VERIFY, StageLoad, assess, duration, stage_rate

MICRO_S = 24 * 60  # the issue's measured micro verification: about 24 minutes


def verify_stage(backlog: int, max_backlog: int = 20, workers: int = 1, measured: float | None = None,
                 est: float | None = MICRO_S) -> StageLoad:
    return StageLoad(VERIFY, "micro", backlog, max_backlog, workers, measured, est)


def screen_stage(backlog: int, max_backlog: int = 20, workers: int = 1, measured: float | None = None) -> StageLoad:
    return StageLoad(SCREEN, "screen", backlog, max_backlog, workers, measured, 300.0)


def test_the_issue_26_waiting_for_one_slow_verify_worker():
    p = assess([verify_stage(26, measured=2.5)], budgets={"micro": 4096, "tiny": 1024}, screen_budget=16384)
    assert p.designing_paused and not p.screening_paused
    assert "26 checked designs await a first verification at micro" in p.reason
    assert "the limit is 20" in p.reason and "measured 2.5 designs/h" in p.reason
    v = p.stage(VERIFY)
    assert v.eta_resume_s == pytest.approx(7 / 2.5 * 3600)  # 26 - 20 + 1 designs must finish first
    assert v.eta_drain_s == pytest.approx(26 / 2.5 * 3600)
    assert p.eta_s == v.eta_resume_s and "2.8 h" in p.reason
    fixes = {f.action: f for f in p.fixes}
    assert set(fixes) == {"raise_backlog", "add_verify_worker", "screen_first"}
    assert fixes["raise_backlog"].changes == {"max_backlog": 46}
    assert fixes["add_verify_worker"].changes == {"verify_workers": 2}
    assert "-Q verify" in fixes["add_verify_worker"].how and "5.0 designs/h" in fixes["add_verify_worker"].detail
    assert fixes["screen_first"].changes == {"budgets": {"screen": 16384, "micro": 4096, "tiny": 1024}}


def test_an_empty_backlog_pauses_nothing():
    p = assess([verify_stage(0)])
    assert not p.paused and p.reason == "" and p.fixes == () and p.eta_s == 0.0
    assert p.stage(VERIFY).eta_drain_s == 0.0


def test_one_below_the_limit_designs_and_exactly_at_it_waits_for_one():
    assert not assess([verify_stage(19, measured=3.0)]).designing_paused
    at = assess([verify_stage(20, measured=3.0)])
    assert at.designing_paused and at.stage(VERIFY).eta_resume_s == pytest.approx(3600 / 3.0)


def test_a_limit_of_zero_never_pauses_even_a_huge_backlog():
    p = assess([verify_stage(10**6, max_backlog=0, measured=1.0)])
    assert not p.paused and p.stage(VERIFY).eta_drain_s == pytest.approx(10**6 * 3600)


def test_zero_verify_workers_never_drain_and_adding_one_is_offered():
    p = assess([verify_stage(25, workers=0, measured=4.0)])
    v = p.stage(VERIFY)
    assert p.designing_paused and v.rate_per_hour == 0 and v.eta_resume_s is None and v.eta_drain_s is None
    assert p.eta_s is None and "no verify worker takes it" in p.reason and "never resumes" in p.reason
    add = next(f for f in p.fixes if f.action == "add_verify_worker")
    assert add.changes == {"verify_workers": 1}


def test_without_a_measurement_the_rate_is_the_rung_estimate_and_says_so():
    rate, measured = stage_rate(verify_stage(30, workers=2, measured=None, est=600.0))
    assert (rate, measured) == (12.0, False)
    p = assess([verify_stage(30, workers=2, est=600.0)])
    assert "estimated 12.0 designs/h" in p.reason
    unknown = assess([verify_stage(30, est=None)])
    assert unknown.stage(VERIFY).rate_per_hour is None and unknown.eta_s is None
    assert "not known yet" in unknown.reason


def test_with_a_screen_each_stage_has_its_own_backlog():
    # The screen is full, the verify stage is not: only designing waits, for the cheap screen.
    p = assess([screen_stage(20, measured=12.0), verify_stage(3)])
    assert p.designing_paused and not p.screening_paused
    assert "await the screen" in p.reason and p.eta_s == pytest.approx(3600 / 12.0)
    assert {f.action for f in p.fixes} == {"raise_backlog", "add_verify_worker"}  # no screen_first: it screens
    assert next(f for f in p.fixes if f.action == "raise_backlog").changes == {"max_screen_backlog": 40}
    # The verify stage is full, the screen is not: screening waits, designing goes on.
    q = assess([screen_stage(5), verify_stage(20, measured=2.0)])
    assert q.screening_paused and not q.designing_paused and q.eta_s == 0.0
    assert "Screening is paused" in q.reason and "Designing is paused" not in q.reason
    assert next(f for f in q.fixes if f.action == "raise_backlog").changes == {"max_backlog": 40}


def test_when_both_stages_are_full_designing_waits_for_both():
    p = assess([screen_stage(20, measured=12.0), verify_stage(20, measured=2.0)])
    assert p.designing_paused and p.screening_paused
    assert p.eta_s == pytest.approx(3600 / 2.0 + 3600 / 12.0)  # verify makes room, then the screen does
    none = assess([screen_stage(20, workers=0), verify_stage(20, workers=0)])
    assert none.eta_s is None


def test_screen_first_is_offered_only_where_the_screen_exists_and_the_run_lacks_it():
    assert "screen_first" not in {f.action for f in assess([verify_stage(30)], budgets={"micro": 4}).fixes}
    with_screen = assess([verify_stage(30)], budgets={"screen": 8, "micro": 4}, screen_budget=16384)
    assert "screen_first" not in {f.action for f in with_screen.fixes}


@pytest.mark.parametrize(("seconds", "text"), [(None, "never at the current rate"), (30, "30 s"), (600, "10 min"),
                                               (3 * 3600, "3.0 h"), (5 * 86400, "5.0 days")])
def test_durations_read_as_people_say_them(seconds, text):
    assert duration(seconds) == text
