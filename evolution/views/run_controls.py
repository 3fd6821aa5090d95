"""Run controls on the dashboard: the run's state (running, paused, stopped) and its loop settings.

POST only, CSRF-checked. Rights are checked here (researchers and admins) and again in the services,
which also validate: a refused change comes back next to the form with the service's message, the
values the researcher typed kept. Only fields that differ from the current settings are sent, so the
`run.settings_changed` event lists what really changed.
"""

from __future__ import annotations

import math
from dataclasses import fields as dataclass_fields
from typing import Any

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from evolution.core.backpressure import Pressure
from evolution.core.ladder import ladder, rung_index
from evolution.core.loop_settings import DESIGNERS, STATES, LoopSettings, SettingsError
from evolution.models import EvolutionRun
from evolution.selectors import backpressure as bp
from evolution.selectors.dashboard import budget_used
from evolution.selectors.requests import recent_requests
from evolution.selectors.runs import active_run, run_budgets
from evolution.services import loop as loop_service
from evolution.services.runs import ensure_active_run
from evolution.views.common import page
from genesys_site.permissions import PROMOTE, action_required
from verifier.core.train.fitness import DEFAULT_METRIC

# The scalar settings, read off LoopSettings so a setting added there appears in the form.
INT_FIELDS = tuple(f.name for f in dataclass_fields(LoopSettings) if f.type in ("int", int))
FLOAT_FIELDS = tuple(f.name for f in dataclass_fields(LoopSettings) if f.type in ("float", float))
MIX_KEYS = ("scratch", "mutation", "crossover")

# name: (label, help). The help says what the number does to the search.
FIELDS: dict[str, tuple[str, str]] = {
    "design_workers": ("Design workers", "design jobs kept running at once"),
    "verify_workers": ("Verify workers", "verification jobs kept running at once"),
    "designer": ("Designer", "auto: LLM agents when a key is configured, else the GP designer"),
    "explore_prob": ("Explore probability", "chance of picking a parent outside the top fraction"),
    "top_fraction": ("Top fraction", "share of designs that count as the elite"),
    "reverify_fraction": ("Re-verify fraction", "share of a rung's budget that re-verifying close calls may use"),
    "max_designs": ("Max designs", "stop designing after this many (0: no limit)"),
    "max_backlog": ("Max backlog", "designs awaiting a first verification that make designing (or, with a "
                    "screen, screening) wait; 0: no limit"),
    "max_screen_backlog": ("Max screen backlog", "with the screen as the first rung: designers wait while this "
                           "many designs await the screen; 0: no limit"),
    "max_attempts": ("Max attempts", "a job whose worker died is retried this often"),
    "stale_after_s": ("Stale after (s)", "no heartbeat for this long: the worker is presumed dead"),
}

# The run's rung fitness (verifier.core.train.fitness), one line each on what it measures. The screen
# rung uses its own score except under bpb (its bpb); a change applies to verifications recorded after it.
FITNESS_METRICS: dict[str, str] = {
    DEFAULT_METRIC: "accuracy at the GPU rungs, likelihood at the CPU rungs (where accuracy is at chance); "
                    "at the screen, its bpb when the run has no GPU rung (the best predictor of the tiny loss), else its score",
    "accuracy": "Equation 1 of the paper: mean task accuracy above chance; noise at small scale",
    "likelihood": "mean per-byte log-probability of the correct answer: ranks designs at small scale (DataDecide)",
    "bpb": "minus the held-out bits per byte: tokenizer-independent language modelling, no tasks (the screen too)",
}


def timeout_rungs(run: EvolutionRun | None, settings: LoopSettings) -> list[str]:
    return sorted(set(run_budgets(run)) | set(settings.verify_timeout_s), key=rung_index)


def controls_context(run: EvolutionRun | None, values: dict[str, str] | None = None, error: str = "",
                     ok: str = "", where: str = "state", pressure: Pressure | None | bool = False) -> dict[str, Any]:
    """What the controls partial shows: the state, and the form filled from the settings (or from what
    was typed, after a refused change); `pressure` when the caller read it already."""
    settings = LoopSettings.from_dict(run.settings if run else None)
    budgets = run_budgets(run)
    current = _values(settings, budgets, run)
    shown = {**current, **(values or {})}
    used = budget_used(run)
    return {
        "pressure": bp.pressure(run) if pressure is False else pressure,
        "run": run, "states": STATES, "designers": DESIGNERS, "controls_error": error, "controls_ok": ok,
        "error_fields": error_fields(error, shown), "controls_where": where,
        "fields": [{"name": n, "label": FIELDS.get(n, (n.replace("_", " ").capitalize(), ""))[0],
                    "help": FIELDS.get(n, ("", ""))[1], "value": shown.get(n, "")} for n in INT_FIELDS + FLOAT_FIELDS],
        "designer_value": shown.get("designer", settings.designer),
        "fitness_metrics": [{"name": name, "help": text} for name, text in FITNESS_METRICS.items()],
        "fitness_metric_value": shown.get("fitness_metric", settings.fitness_metric),
        "mix": [{"key": k, "name": f"mix.{k}", "value": shown.get(f"mix.{k}", "")} for k in MIX_KEYS],
        "timeouts": [{"rung": r, "name": f"timeout.{r}", "value": shown.get(f"timeout.{r}", ""),
                      "default": _num(round(settings.default_timeout(r)))}  # empty: from the rung's cost estimate
                     for r in timeout_rungs(run, settings)],
        "budget_fields": [{"rung": r.name, "name": f"budget.{r.name}", "value": shown.get(f"budget.{r.name}", ""),
                           "used": used.get(r.name, 0)} for r in ladder()],
    }


def error_fields(error: str, names) -> set[str]:
    """The inputs a refusal is about, to mark them: messages start with the field's name or say "of <rung>"."""
    if not error:
        return set()
    marked = {n for n in names if n in (*INT_FIELDS, *FLOAT_FIELDS, "fitness_metric") and error.startswith(n)}
    if error.startswith("mix"):
        marked.add("mix")
    for n in names:
        kind, _, rung_name = n.partition(".")
        if kind == "timeout" and f"timeout of {rung_name} " in error or kind == "budget" and (
                f"budget of {rung_name} " in error or f"rung {rung_name!r}" in error):
            marked.add(n)
    return marked


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _values(settings: LoopSettings, budgets: dict[str, int], run: EvolutionRun | None) -> dict[str, str]:
    out = {n: str(getattr(settings, n)) for n in INT_FIELDS}
    out.update({n: _num(getattr(settings, n)) for n in FLOAT_FIELDS})
    out["designer"] = settings.designer
    out["fitness_metric"] = settings.fitness_metric
    out.update({f"mix.{k}": _num(settings.mix.get(k, 0.0)) for k in MIX_KEYS})
    out.update({f"timeout.{r}": _num(v) for r, v in settings.verify_timeout_s.items()})
    out.update({f"budget.{r}": str(n) for r, n in budgets.items()})
    return out


def _parse_number(name: str, raw: str, kind: type) -> float | int:
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):  # JSON (and PostgreSQL's jsonb) has no NaN or infinity
        raise SettingsError(f"{name} must be a finite number, got {raw!r}")
    if kind is int:
        if not value.is_integer():
            raise SettingsError(f"{name} must be a whole number, got {raw!r}")
        return int(value)
    return value


def parse_changes(post, run: EvolutionRun | None) -> dict[str, Any]:
    """The settings form as a change set for `update_settings`: only what differs from now."""
    settings = LoopSettings.from_dict(run.settings if run else None)
    changes: dict[str, Any] = {}
    for name in INT_FIELDS + FLOAT_FIELDS:
        if name in post:
            value = _parse_number(name, post[name], int if name in INT_FIELDS else float)
            if value != getattr(settings, name):
                changes[name] = value
    if "designer" in post and post["designer"] != settings.designer:
        changes["designer"] = post["designer"]
    if "fitness_metric" in post and post["fitness_metric"] != settings.fitness_metric:
        changes["fitness_metric"] = post["fitness_metric"]
    mix = dict(settings.mix)
    for key in MIX_KEYS:
        if f"mix.{key}" in post:
            mix[key] = _parse_number(f"mix weight of {key}", post[f"mix.{key}"], float)
    if mix != settings.mix:
        changes["mix"] = mix
    timeouts = dict(settings.verify_timeout_s)
    for name in timeout_rungs(run, settings):
        if f"timeout.{name}" not in post:
            continue
        raw = post[f"timeout.{name}"].strip()
        if not raw:  # empty: the default timeout
            timeouts.pop(name, None)
            continue
        seconds = _parse_number(f"the timeout of {name}", raw, float)
        if seconds <= 0:
            raise SettingsError(f"the timeout of {name} must be positive, got {raw!r}")
        timeouts[name] = seconds
    if timeouts != settings.verify_timeout_s:
        changes["verify_timeout_s"] = timeouts
    budgets = {}
    for info in ladder():
        raw = post.get(f"budget.{info.name}", "").strip()
        if raw:
            budgets[info.name] = _parse_number(f"the budget of {info.name}", raw, int)
    if any(k.startswith("budget.") for k in post) and budgets != run_budgets(run):
        changes["budgets"] = budgets
    return changes


def _respond(request, run: EvolutionRun | None, values=None, error: str = "", ok: str = "", where: str = "state"):
    """The panel again, the answer shown where the researcher acted (by the state buttons or the form)."""
    if request.htmx:
        return page(request, "evolution/partials/dashboard_controls.html",
                    controls_context(run, values, error, ok, where))  # 200: htmx swaps only 2xx
    if error:
        messages.error(request, error)
    elif ok:
        messages.success(request, ok)
    return redirect("evolution:dashboard")


@require_POST
@action_required(PROMOTE)
def set_state(request):
    run = active_run() or ensure_active_run()
    state = request.POST.get("state", "")
    if state == run.state:
        return _respond(request, run, ok=f"the run is already {state}")
    try:
        loop_service.set_state(run, state, request.user)
    except SettingsError as exc:
        return _respond(request, run, error=str(exc))
    return _respond(request, run, ok=f"the run is now {state}")


@require_POST
@action_required(PROMOTE)
def update_settings(request):
    run = active_run() or ensure_active_run()
    typed = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    try:
        changes = parse_changes(request.POST, run)
        if not changes:
            return _respond(request, run, ok="nothing changed", where="settings")
        loop_service.update_settings(run, changes, request.user)
    except SettingsError as exc:
        return _respond(request, run, values=typed, error=str(exc), where="settings")
    return _respond(request, run, ok="settings saved: " + ", ".join(sorted(changes)), where="settings")


@require_POST
@action_required(PROMOTE)
def apply_pressure_fix(request):
    """Apply one of the fixes the back-pressure assessment offers now (by name: the change itself is
    recomputed here, never taken from the form)."""
    run = active_run() or ensure_active_run()
    action = request.POST.get("action", "")
    pressure = bp.pressure(run)
    fix = next((f for f in (pressure.fixes if pressure else ()) if f.action == action and f.changes), None)
    error = ok = ""
    if fix is None:
        error = (f"no fix named {action or '(none)'} is offered now" if pressure and pressure.paused
                 else "nothing to fix: the loop is not held back now")
    else:
        try:
            loop_service.update_settings(run, dict(fix.changes), request.user)
            ok = f"applied: {fix.title.lower()}" + (f"; now start the worker: {fix.how}" if fix.how else "")
        except SettingsError as exc:
            error = str(exc)
    if request.htmx:
        return page(request, "evolution/partials/dashboard_pressure.html", {
            "run": run, "pressure": bp.pressure(run), "requests": recent_requests(run),
            "pressure_error": error, "pressure_ok": ok})  # 200: htmx swaps only 2xx
    if error:
        messages.error(request, error)
    else:
        messages.success(request, ok)
    return redirect(reverse("evolution:dashboard") + "#pressure")
