"""Back-pressure: whether the loop's designers (and, with a screen, its screening) wait for the stage
after them, why, for how long, and what a researcher can do about it.

Plain data in, plain data out, so the conductor (which obeys it), the dashboard (which explains it)
and the tests read one decision. A stage is a queue of designs waiting for their first run there:

- without a screen rung, one stage, `verify`: checked designs awaiting a first verification; when
  it holds `max_backlog` designs, designing pauses;
- with the screen as the run's first rung, two: `screen` (checked designs awaiting the screen;
  full at `max_screen_backlog`, it pauses designing) and `verify` (screened designs awaiting a first
  verification above the screen; full at `max_backlog`, it pauses new screens, so the verify
  workers' slots go to the designs that were screened already).

A limit of 0 means no limit. A researcher's own request is never subject to any of this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SCREEN, VERIFY = "screen", "verify"
SETTING = {SCREEN: "max_screen_backlog", VERIFY: "max_backlog"}  # the run setting that bounds each stage


@dataclass(frozen=True)
class StageLoad:
    """One stage as measured now."""

    stage: str  # SCREEN or VERIFY
    rung: str  # the rung that serves it (screen, micro, …)
    backlog: int  # designs waiting for their first run at this stage
    max_backlog: int  # the limit (0: none)
    workers: int  # verify jobs that may run at once (the verify workers serve every stage)
    measured_per_hour: float | None = None  # first runs at this stage finished per hour lately (None: none)
    est_seconds: float | None = None  # the rung's cost estimate for one design, the fallback rate


@dataclass(frozen=True)
class Fix:
    """One way out, with the run-setting change that applies it (empty: a person must act outside the app)."""

    action: str  # raise_backlog | add_verify_worker | screen_first
    title: str
    detail: str
    changes: dict[str, Any] = field(default_factory=dict)
    how: str = ""  # what a person does besides the setting (a command to run)


@dataclass(frozen=True)
class StageVerdict:
    stage: str
    rung: str
    backlog: int
    max_backlog: int
    full: bool  # the stage before it waits
    rate_per_hour: float | None  # designs per hour this stage takes (None: unknown)
    measured: bool  # rate from finished runs (False: from the rung's estimate)
    eta_resume_s: float | None  # until the backlog is below its limit (0: it is; None: never at this rate)
    eta_drain_s: float | None  # until the backlog is empty (0: it is; None: never at this rate)
    workers: int = 0


@dataclass(frozen=True)
class Pressure:
    designing_paused: bool
    screening_paused: bool
    stages: tuple[StageVerdict, ...]
    reason: str  # one or two sentences for people; "" when nothing waits
    eta_s: float | None  # until designing resumes (0: it is not paused; None: never at the current rate)
    fixes: tuple[Fix, ...] = ()

    @property
    def paused(self) -> bool:
        return self.designing_paused or self.screening_paused

    def stage(self, name: str) -> StageVerdict | None:
        return next((s for s in self.stages if s.stage == name), None)


def stage_rate(load: StageLoad) -> tuple[float | None, bool]:
    """Designs per hour the stage takes, and whether that was measured. No worker: 0 (it never drains);
    otherwise the measured rate, else the workers' rate at the rung's estimate, else unknown."""
    if load.workers <= 0:
        return 0.0, load.measured_per_hour is not None
    if load.measured_per_hour is not None and load.measured_per_hour > 0:
        return float(load.measured_per_hour), True
    if load.est_seconds and load.est_seconds > 0:
        return load.workers * 3600.0 / load.est_seconds, False
    return None, False


def _hours(designs: int, rate: float | None) -> float | None:
    if designs <= 0:
        return 0.0
    if rate is None or rate <= 0:
        return None
    return designs / rate * 3600.0


def verdict(load: StageLoad) -> StageVerdict:
    rate, measured = stage_rate(load)
    full = load.max_backlog > 0 and load.backlog >= load.max_backlog
    over = load.backlog - load.max_backlog + 1 if full else 0  # designs to finish before it takes more
    return StageVerdict(
        stage=load.stage, rung=load.rung, backlog=load.backlog, max_backlog=load.max_backlog, full=full,
        rate_per_hour=rate, measured=measured, eta_resume_s=_hours(over, rate),
        eta_drain_s=_hours(load.backlog, rate), workers=load.workers,
    )


def duration(seconds: float | None) -> str:
    """A short human duration: "never" for None."""
    if seconds is None:
        return "never at the current rate"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _rate_text(v: StageVerdict) -> str:
    if v.rate_per_hour is None:
        return "its rate is not known yet"
    if v.rate_per_hour == 0:
        return "no verify worker takes it" if v.workers <= 0 else "nothing finishes there"
    how = "measured" if v.measured else "estimated"
    return f"{how} {v.rate_per_hour:.1f} designs/h at {v.rung}"


def assess(stages: Sequence[StageLoad], *, budgets: Mapping[str, int] | None = None,
           screen_budget: int = 0) -> Pressure:
    """The decision for one run. `stages`: VERIFY alone, or SCREEN and VERIFY. `budgets`: the run's
    budgets per rung; with `screen_budget` > 0 and no screen among them, screening first is a fix."""
    verdicts = tuple(verdict(s) for s in stages)
    by = {v.stage: v for v in verdicts}
    screen, verify = by.get(SCREEN), by.get(VERIFY)
    entry = screen or verify  # the stage new designs enter
    designing_paused = bool(entry and entry.full)
    screening_paused = bool(screen and verify and verify.full)
    if not designing_paused and not screening_paused:
        return Pressure(False, False, verdicts, "", 0.0)
    parts = []
    blocked = verify if screening_paused else entry
    assert blocked is not None
    if designing_paused and entry is not None:
        waiting = "the screen" if entry.stage == SCREEN else f"a first verification at {entry.rung}"
        parts.append(f"Designing is paused: {entry.backlog} checked designs await {waiting}, "
                     f"the limit is {entry.max_backlog} ({_rate_text(entry)}).")
    if screening_paused and verify is not None:
        parts.append(f"Screening is paused: {verify.backlog} screened designs await a first verification at "
                     f"{verify.rung}, the limit is {verify.max_backlog} ({_rate_text(verify)}).")
    eta = entry.eta_resume_s if designing_paused and entry is not None else 0.0
    if designing_paused and entry is not None and screening_paused and verify is not None and entry is not verify:
        # the screen drains only once screening resumes
        eta = None if verify.eta_resume_s is None or eta is None else verify.eta_resume_s + eta
    if designing_paused:
        parts.append("Designing resumes in about " + duration(eta) + "." if eta is not None
                     else "At the current rate it never resumes by itself.")
    return Pressure(designing_paused, screening_paused, verdicts, " ".join(parts), eta,
                    tuple(_fixes(blocked, verify, budgets or {}, screen_budget, screen is not None)))


def _fixes(blocked: StageVerdict, verify: StageVerdict | None, budgets: Mapping[str, int], screen_budget: int,
           has_screen: bool) -> list[Fix]:
    fixes = []
    setting = SETTING[blocked.stage]
    resumes = "screening" if has_screen and blocked.stage == VERIFY else "designing"
    bigger = blocked.backlog + max(blocked.max_backlog, 1)
    fixes.append(Fix(
        "raise_backlog", f"Raise the {blocked.stage} backlog limit to {bigger}",
        f"{setting} {blocked.max_backlog} → {bigger}: {resumes} resumes now; the queue may grow to "
        f"{bigger} designs, about {duration(_hours(bigger, blocked.rate_per_hour))} of work at the current rate.",
        {setting: bigger}))
    if verify is not None:
        workers = verify.workers + 1
        faster = None
        if verify.rate_per_hour and verify.workers > 0:
            faster = verify.rate_per_hour * workers / verify.workers
        gain = (f" (about {faster:.1f} designs/h at {verify.rung})" if faster else "")
        fixes.append(Fix(
            "add_verify_worker", f"Add a verify worker ({verify.workers} → {workers})",
            f"verify_workers {verify.workers} → {workers}{gain}. A worker process must serve the extra slot.",
            {"verify_workers": workers},
            how=f"celery -A genesys_site worker -Q verify -c 1 -n verify{workers}@%h"))
    if not has_screen and screen_budget > 0 and SCREEN not in budgets:
        fixes.append(Fix(
            "screen_first", "Screen new designs first",
            f"Give the run a screen budget ({screen_budget}): new designs get the screen (minutes on a CPU core) "
            f"before {verify.rung if verify else 'verification'}, and only the ones worth it climb; the designers "
            f"then wait for the screen, not for {verify.rung if verify else 'verification'}.",
            {"budgets": {SCREEN: screen_budget, **budgets}}))
    return fixes
