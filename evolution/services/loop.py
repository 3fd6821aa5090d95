"""The evolution loop: settings and state of a run, and the conductor's dispatch step.

`dispatch(run)` is idempotent and cheap: it reaps jobs whose worker died, then tops up the design
and verify queues to the run's worker counts. The conductor (`manage.py evolve`) calls it every few
seconds; everything it decides from is in the database, so a restart loses nothing.
"""

from __future__ import annotations

import random
from typing import Any

from django.db import transaction

from evolution.core.ladder import rung
from evolution.core.loop_settings import STATES, LoopSettings, SettingsError
from evolution.core.selection import VerifyChoice, select_verification
from evolution.models import Design, DesignRequest, EvolutionRun, Job, Verification
from evolution.selectors import backpressure
from evolution.selectors import loop as q
from evolution.services.events import record_event
from evolution.services.intake import fail_check
from evolution.services.jobs import create_job, reap_stale, resend_lost
from genesys_site.permissions import PROMOTE, require
from verifier.core.train.ladder import DEFAULT_SEED

_rng = random.Random()


def run_settings(run: EvolutionRun) -> LoopSettings:
    return LoopSettings.from_dict(run.settings)


def update_settings(run: EvolutionRun, changes: dict[str, Any], user=None) -> LoopSettings:
    """Apply a settings change (validated as a whole), record it as an event, return the new settings."""
    if user is not None:
        require(user, PROMOTE)
    changes = dict(changes)
    budgets = changes.pop("budgets", None)
    new = run_settings(run).updated(changes)
    with transaction.atomic():
        run.settings = new.to_dict()
        fields = ["settings"]
        if budgets is not None:
            run.budgets = _valid_budgets(budgets)
            fields.append("budgets")
        run.save(update_fields=fields)
        shown = dict(changes, **({"budgets": run.budgets} if budgets is not None else {}))
        record_event("run.settings_changed", {"run": run.id, "changes": shown}, actor=user)
    return new


def _valid_budgets(budgets: Any) -> dict[str, int]:
    if not isinstance(budgets, dict) or not budgets:
        raise SettingsError("budgets must map rung names to verification counts")
    out = {}
    for name, value in budgets.items():
        if rung(name) is None:
            raise SettingsError(f"unknown rung {name!r}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SettingsError(f"the budget of {name} must be an integer ≥ 0, got {value!r}")
        out[name] = value
    return out


def set_state(run: EvolutionRun, state: str, user=None) -> EvolutionRun:
    if user is not None:
        require(user, PROMOTE)
    if state not in STATES:
        raise SettingsError(f"state must be one of {', '.join(STATES)}")
    with transaction.atomic():
        previous = run.state
        run.state = state
        run.save(update_fields=["state"])
        record_event("run.state_changed", {"run": run.id, "from": previous, "to": state}, actor=user)
    return run


def dispatch(run: EvolutionRun, rng: random.Random | None = None) -> dict[str, int]:
    """One conductor step for `run`; returns how many jobs of each kind it queued or reaped."""
    rng = rng or _rng
    settings = run_settings(run)
    reaped = reap_stale(run, settings.stale_after_s, settings.max_attempts)
    for job in reaped:  # an upload whose check kept losing its worker says so, instead of "checking" forever
        if job.kind == Job.Kind.CHECK and job.status == Job.Status.FAILED and job.params.get("upload"):
            fail_check(int(job.params["upload"]), job.error)
    counts = {"reaped": len(reaped), "design": 0, "verify": 0, "requests": 0, "check": 0}
    resend_lost(run, settings.stale_after_s)
    if run.state != "stopped":  # a researcher's request runs in a slot of its own, whatever the pressure
        counts["requests"] = take_requests(run)
    if run.state != "running":
        return counts
    # Seeds stored unchecked are checked first; until one passes they are neither parents nor verified.
    for seed in q.unchecked_seeds_never_checked(run):
        create_job(run, Job.Kind.CHECK, design=seed)
        counts["check"] += 1
    made = q.designs_made(run)
    free = settings.design_workers - q.active_jobs(run, Job.Kind.DESIGN)
    if not any(d.implemented and not d.vetoed for d in q.design_states(run)):
        free = 0  # nothing to design from yet (the seeds still wait for their check)
    if settings.max_designs:
        free = min(free, settings.max_designs - made - q.active_jobs(run, Job.Kind.DESIGN))
    pressure = backpressure.pressure(run, settings)
    if pressure is not None and pressure.designing_paused:
        free = 0  # designers wait for the stage after them (evolution.core.backpressure)
    for _ in range(max(0, free)):
        create_job(run, Job.Kind.DESIGN)
        counts["design"] += 1
    free = settings.verify_workers - q.active_jobs(run, Job.Kind.VERIFY)
    # Researchers' promotions (queued rows without a job) come first.
    for verification in q.queued_verifications_without_job(run)[: max(0, free)]:
        create_job(run, Job.Kind.VERIFY, design=verification.design, verification=verification)
        counts["verify"] += 1
        free -= 1
    admit_new = pressure is None or not pressure.screening_paused
    while free > 0:
        choice = select_verification(q.design_states(run), q.rung_budgets(run), settings.selection(), rng,
                                     admit_new=admit_new)
        if choice is None or queue_verification(run, choice) is None:
            break  # nothing worth verifying, or selection and the table disagree: wait for the next step
        counts["verify"] += 1
        free -= 1
    return counts


def take_requests(run: EvolutionRun) -> int:
    """Give every queued researcher's request its design job (not counted against the loop's
    design workers, `max_designs` or back-pressure); returns how many were taken."""
    taken = 0
    for request in q.queued_requests(run):
        with transaction.atomic():
            if not DesignRequest.objects.filter(id=request.id, status=DesignRequest.Status.QUEUED).update(
                    status=DesignRequest.Status.TAKEN):
                continue  # taken by a conductor step running beside this one
            job = create_job(run, Job.Kind.DESIGN, params={"request": request.id, "mode": request.mode})
            parent = request.parents.order_by("id").first()
            record_event("request.taken", {"request": request.id, "job": job.id, "mode": request.mode},
                         design=parent)
        taken += 1
    return taken


def queue_verification(run: EvolutionRun, choice: VerifyChoice) -> Verification | None:
    """Queue selection's choice (a new row, or a failed one again) with its job; None when the
    (design, rung, seed) row already exists and has not failed."""
    design = Design.objects.get(id=choice.design)
    info = rung(choice.rung)
    with transaction.atomic():
        verification, created = Verification.objects.get_or_create(
            design=design, rung=choice.rung, seed=choice.seed or DEFAULT_SEED,
            defaults={"rung_index": info.index if info else 0, "run": run},
        )
        if not created and verification.status != Verification.Status.FAILED:
            return None
        verification.status, verification.run = Verification.Status.QUEUED, run
        verification.save(update_fields=["status", "run"])
        if design.status == Design.Status.CHECKED:
            Design.objects.filter(id=design.id).update(status=Design.Status.VERIFYING)
        record_event("verification.queued", {"verification": verification.id, "rung": choice.rung,
                                             "seed": verification.seed, "reason": choice.reason}, design=design)
        create_job(run, Job.Kind.VERIFY, design=design, verification=verification)
    return verification
