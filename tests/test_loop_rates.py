"""The loop-throughput figures: the arithmetic on awkward rows, and the selector on real tables."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from evolution.core.loop_rates import MIN_SPAN_S, DesignRow, VerificationRow, loop_rates, per_hour, seconds
from evolution.models import Design, Event, EvolutionRun, Job, Verification
from evolution.selectors.loop_rates import loop_rates_for_run
from evolution.services.designs import create_design
from evolution.services.seeding import seed_designs
from verifier.core.seeds import load_seed


def _time(figures: dict) -> dict[str, float]:
    return {t["part"]: t["seconds"] for t in figures["time"]}


def test_an_empty_run_has_zero_rates_and_no_shares():
    figures = loop_rates([], [], 0.0)
    assert figures["counts"] == {"made": 0, "checked": 0, "passed": 0, "screened": 0, "screen_failed": 0,
                                 "verified": 0, "verify_failed": 0, "in_progress": 0}
    assert figures["per_hour"] == {"made": 0.0, "checked": 0.0, "screened": 0.0, "verified": 0.0}
    assert figures["worker_seconds"] == 0.0
    assert all(t["share"] is None for t in figures["time"])


def test_rates_are_per_hour_with_a_one_minute_floor():
    one = [DesignRow(job_s=10.0, checked=True, passed=True, check_s=4.0)]
    assert loop_rates(one, [], 1800.0)["per_hour"]["made"] == pytest.approx(2.0)  # 1 in half an hour
    # One design two seconds in is 60/h (the floor), not 1,800/h.
    assert loop_rates(one, [], 2.0)["per_hour"]["made"] == pytest.approx(3600 / MIN_SPAN_S)
    assert per_hour(3, 7200.0) == pytest.approx(1.5)
    assert loop_rates(one, [], -5.0)["span_s"] == 0.0  # a clock that went backwards: no negative span


def test_design_time_excludes_the_check_it_ran_and_never_goes_negative():
    rows = [
        DesignRow(job_s=10.0, checked=True, passed=True, check_s=4.0),
        DesignRow(job_s=3.0, checked=True, passed=False, check_s=5.0),  # check longer than its job (clocks)
        DesignRow(job_s=None, checked=False, passed=False, check_s=None),  # job still running
    ]
    figures = loop_rates(rows, [], 3600.0)
    assert figures["counts"]["made"] == 3 and figures["counts"]["checked"] == 2 and figures["counts"]["passed"] == 1
    assert _time(figures)["design"] == pytest.approx(6.0)  # (10 - 4) + max(0, 3 - 5) + 0
    assert _time(figures)["check"] == pytest.approx(9.0)


def test_verification_phases_overhead_and_torn_values():
    rows = [
        VerificationRow("screen", False, {"data": 2.0, "train": 30.0, "probes": 8.0, "total": 40.0}, job_s=50.0),
        VerificationRow("screen", True, {"data": "?", "train": float("nan"), "total": None}, job_s=5.0),
        VerificationRow("test", False, {"train": 12.0, "eval": -3.0}, job_s=None),  # no job (a script ran it)
        VerificationRow("micro", False, {}, job_s=7.0),  # a report without phases
    ]
    figures = loop_rates([], rows, 3600.0)
    c = figures["counts"]
    assert (c["screened"], c["screen_failed"], c["verified"], c["verify_failed"]) == (2, 1, 2, 0)
    t = _time(figures)
    assert t["verify: train"] == pytest.approx(42.0)
    assert t["verify: data"] == pytest.approx(2.0)
    assert t["verify: eval"] == 0.0  # negative: dropped
    assert "verify: total" not in t
    # 50 - 40 (first), 5 - 0 (second: nothing usable in its report), 7 - 0 (fourth)
    assert t["verify overhead"] == pytest.approx(22.0)
    shares = [x["share"] for x in figures["time"]]
    assert math.isclose(sum(shares), 1.0)
    assert figures["time"][2]["part"] == "verify: train"  # verification parts: largest first


def test_seconds_accepts_only_finite_non_negative_numbers():
    assert [seconds(v) for v in (3, 2.5, -1, "4", None, True, float("inf"), float("nan"))] == [3.0, 2.5, 0, 0, 0,
                                                                                               0, 0, 0]


@pytest.mark.django_db
def test_the_selector_reads_a_runs_designs_checks_and_verifications():
    seed_designs(["gpt"], check=False)
    now = timezone.now()
    run = EvolutionRun.objects.create(name="rates", budgets={"screen": 4, "test": 2})
    EvolutionRun.objects.filter(id=run.id).update(created_at=now - timedelta(hours=2))
    run.refresh_from_db()
    assert loop_rates_for_run(None) is None
    made = create_design(tree=load_seed("gpt"), name="child", origin_kind=Design.OriginKind.GP,
                         check_report={"passed": True, "seconds": 3.0})
    Design.objects.filter(id=made.id).update(run=run, created_at=now - timedelta(minutes=1))
    Job.objects.create(run=run, kind="design", design=made, status="done", started_at=now - timedelta(seconds=20),
                       finished_at=now - timedelta(seconds=10))
    seed = Design.objects.get(name="gpt")
    v = Verification.objects.create(design=seed, rung="screen", run=run, status="done",
                                    finished_at=now - timedelta(minutes=5),
                                    report={"wall_time_s": {"train": 30.0, "probes": 10.0, "total": 40.0}})
    Job.objects.create(run=run, kind="verify", design=seed, verification=v, status="done",
                       started_at=now - timedelta(minutes=6), finished_at=now - timedelta(minutes=5))
    Verification.objects.create(design=seed, rung="screen", seed=1, run=None, status="done", finished_at=now)
    figures = loop_rates_for_run(run, now=now)
    assert figures["counts"]["made"] == 1 and figures["counts"]["checked"] == 1
    assert figures["counts"]["screened"] == 1  # the verification of no run is not this run's
    assert figures["per_hour"]["made"] == pytest.approx(0.5)  # one in two hours
    t = _time(figures)
    assert t["design"] == pytest.approx(7.0) and t["check"] == pytest.approx(3.0)
    assert t["verify: train"] == pytest.approx(30.0) and t["verify overhead"] == pytest.approx(20.0)


@pytest.mark.django_db
def test_a_verification_still_running_counts_its_phases_so_far_but_not_itself():
    seed_designs(["gpt"], check=False)
    now = timezone.now()
    run = EvolutionRun.objects.create(name="rates-running", budgets={"screen": 4})
    since = now - timedelta(minutes=10)
    seed = Design.objects.get(name="gpt")
    v = Verification.objects.create(design=seed, rung="screen", run=run, status="running",
                                    started_at=now - timedelta(minutes=9))
    for minutes_ago, phase in ((8, "data"), (7, "train"), (1, "eval")):
        e = Event.objects.create(kind="verification.progress",
                                 payload={"kind": "phase", "phase": phase, "verification": v.id, "rung": "screen"})
        Event.objects.filter(id=e.id).update(created_at=now - timedelta(minutes=minutes_ago))
    Event.objects.create(kind="verification.progress", payload={"kind": "step", "verification": v.id})  # not a phase
    figures = loop_rates_for_run(run, now=now, since=since)
    assert figures["counts"]["screened"] == 0 and figures["counts"]["in_progress"] == 1
    t = _time(figures)
    assert t["verify: data"] == pytest.approx(60.0) and t["verify: train"] == pytest.approx(360.0)
    assert t["verify: eval"] == pytest.approx(60.0)  # up to now
    assert t["verify overhead"] == pytest.approx(60.0)  # started 9 min ago, first phase 8 min ago


@pytest.mark.django_db
def test_the_dashboard_panel_shows_the_runs_figures(client):
    from django.contrib.auth.models import User
    from django.urls import reverse

    seed_designs(["gpt"], check=False)
    run = EvolutionRun.objects.create(name="rates-panel", budgets={"screen": 4}, is_active=True)
    EvolutionRun.objects.exclude(id=run.id).update(is_active=False)
    made = create_design(tree=load_seed("gpt"), name="panel-child", origin_kind=Design.OriginKind.GP,
                         check_report={"passed": True, "seconds": 3.0})
    Design.objects.filter(id=made.id).update(run=run)
    client.force_login(User.objects.create_user("vic", password="pw"))
    html = client.get(reverse("evolution:dashboard-panel", args=["loop_rates"])).content.decode()
    assert "Loop throughput" in html and "Designs made" in html and "check" in html
    assert "Loop throughput" in client.get(reverse("evolution:dashboard")).content.decode()
