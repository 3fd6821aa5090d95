"""Reads for the dashboard: how fit the population is and how fast it improves, how much of each rung's
budget is spent, how fast designs and verifications arrive, and what every worker is doing now.

Everything is computed from the tables on each request (no caches to go stale), in a handful of
queries, so the live page can re-read a panel whenever an event says it changed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from evolution.core.clip import clip
from evolution.core.ladder import is_ladder_rung, ladder, rung_index
from evolution.core.loop_settings import LoopSettings
from evolution.core.ranks import MIN_N, spearman
from evolution.models import Design, Event, EvolutionRun, Job, Verification
from evolution.selectors.runs import run_budgets
from verifier.core.train.fitness import Z_95

ROLLING = 20  # verifications in the rolling mean of the over-time chart
FEED_LENGTH = 40
# Progress events arrive every few seconds; they say nothing the workers panel does not show.
QUIET_KINDS = ("verification.progress",)


def live_cursor() -> int:
    """The newest event id: a page rendered now asks the stream for the events after it."""
    return int(Event.objects.order_by("-id").values_list("id", flat=True).first() or 0)


def _population(run: EvolutionRun | None) -> Q:
    """The run's verifications and those belonging to no run (seeds, uploads, promotions before it)."""
    return Q(run=run) | Q(run__isnull=True) if run is not None else Q()


# ---- fitness ---------------------------------------------------------------------------------------

def fitness_series(run: EvolutionRun | None) -> dict[str, Any]:
    """Per rung: best and mean fitness by generation, and each verification over time with the best
    so far and a rolling mean. Failed verifications have no fitness and are left out."""
    rows = (
        Verification.objects.real().filter(_population(run), status=Verification.Status.DONE, fitness__isnull=False)
        .order_by("finished_at", "id")
        .values_list("rung", "fitness", "finished_at", "design__generation", "design__name", "design__slug",
                     "design__is_seed")
    )
    by_rung: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        by_rung[row[0]].append(row)
    series = []
    for name in sorted(by_rung, key=rung_index):
        series.append(_rung_series(name, by_rung[name]))
    return {"rungs": series, "points": sum(len(s["time"]["fitness"]) for s in series), "rolling": ROLLING}


def _rung_series(name: str, rows: list[tuple]) -> dict[str, Any]:
    per_gen: dict[int, list[float]] = defaultdict(list)
    for _, fitness, _, generation, *_ in rows:
        per_gen[generation].append(fitness)
    gens = sorted(per_gen)
    time: dict[str, list] = {"t": [], "fitness": [], "name": [], "slug": [], "seed": [], "best": [], "mean": []}
    best = float("-inf")
    window: list[float] = []
    for _, fitness, finished, _generation, design_name, slug, is_seed in rows:
        best = max(best, fitness)
        window = (window + [fitness])[-ROLLING:]
        time["t"].append(finished.isoformat() if finished else None)
        time["fitness"].append(fitness)
        time["name"].append(design_name)
        time["slug"].append(slug)
        time["seed"].append(is_seed)
        time["best"].append(best)
        time["mean"].append(sum(window) / len(window))
    return {
        "rung": name,
        "generation": {
            "x": gens,
            "best": [max(per_gen[g]) for g in gens],
            "mean": [sum(per_gen[g]) / len(per_gen[g]) for g in gens],
            "n": [len(per_gen[g]) for g in gens],
        },
        "time": time,
    }


# ---- the ladder ------------------------------------------------------------------------------------

def ladder_rows(run: EvolutionRun | None) -> list[dict[str, Any]]:
    """Per rung of the run, and per rung outside it that has verifications (seeds', uploads', earlier
    runs'): verifications by status, budget used and left (None outside the run), time, best fitness."""
    budgets = run_budgets(run)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    gpu: dict[str, float] = defaultdict(float)
    best: dict[str, float | None] = {}
    qs = Verification.objects.real().filter(_population(run)).values("rung", "status").annotate(
        n=Count("id"), gpu=Sum("gpu_seconds"), best=Max("fitness"))
    for row in qs:
        counts[row["rung"]][row["status"]] += row["n"]
        gpu[row["rung"]] += float(row["gpu"] or 0.0)
        if row["status"] == Verification.Status.DONE:
            best[row["rung"]] = row["best"]
    best_stderr = _stderr_of_best(run, best)
    used_by_run = budget_used(run)
    rows = []
    for info in ladder():
        if info.name not in budgets and not any(counts[info.name].values()):
            continue
        c = counts[info.name]
        in_run = info.name in budgets
        budget = int(budgets[info.name]) if in_run else None
        used = used_by_run.get(info.name, 0)
        left = max(0, budget - used) if budget is not None else None
        rows.append({
            "rung": info.name, "params": info.params, "tokens": info.tokens, "device": info.device,
            "done": c["done"], "running": c["running"], "queued": c["queued"], "failed": c["failed"],
            "budget": budget, "used": used, "left": left, "in_run": in_run,
            "used_pct": (round(100.0 * min(used, budget) / budget, 1) if budget else 100.0) if in_run else 0.0,
            "gpu_seconds": gpu[info.name], "est_gpu_seconds_left": (left or 0) * info.est_gpu_seconds,
            "best": best.get(info.name),
            "best_half_width": Z_95 * best_stderr[info.name] if best_stderr.get(info.name) is not None else None,
        })
    return rows


def _stderr_of_best(run: EvolutionRun | None, best: dict[str, float | None]) -> dict[str, float | None]:
    """The stderr of each rung's best fitness (one query), for its interval."""
    wanted = [Q(rung=rung, fitness=value) for rung, value in best.items() if value is not None]
    if not wanted:
        return {}
    cond = wanted[0]
    for q in wanted[1:]:
        cond |= q
    return dict(Verification.objects.filter(_population(run), cond, status=Verification.Status.DONE)
                .values_list("rung", "fitness_stderr"))


def budget_used(run: EvolutionRun | None) -> dict[str, int]:
    """Budget used: the run's verifications that did not fail (the same count the loop spends)."""
    if run is None:
        return {}
    return dict(
        Verification.objects.filter(run=run).exclude(status=Verification.Status.FAILED)
        .values_list("rung").annotate(n=Count("id")).values_list("rung", "n")
    )


# ---- throughput ------------------------------------------------------------------------------------

def throughput(run: EvolutionRun | None, now: datetime | None = None, hours: int = 24) -> dict[str, Any]:
    """Designs made and verifications finished per hour: the last hour, the last `hours` and since the
    run started, and hourly counts for the chart. Seeds are not "made" and do not count."""
    now = now or timezone.now()
    since = now - timedelta(hours=hours)
    designs = list(Design.objects.real().filter(created_at__gte=since).exclude(origin_kind=Design.OriginKind.SEED)
                   .values_list("created_at", "status"))
    verifs = list(Verification.objects.real().filter(_population(run), finished_at__gte=since,
                                              status__in=(Verification.Status.DONE, Verification.Status.FAILED))
                  .values_list("finished_at", "status"))
    bins = [now - timedelta(hours=hours - i) for i in range(hours)]  # bin starts, oldest first

    def hourly(stamps: list[datetime]) -> list[int]:
        out = [0] * hours
        for t in stamps:
            i = int((t - since).total_seconds() // 3600)
            if 0 <= i < hours:
                out[i] += 1
        return out

    last_hour = now - timedelta(hours=1)
    started = run.created_at if run is not None else None
    # Rates over less than an hour are counts, not extrapolations: 3 designs in 5 minutes is "3/h".
    span_h = max((now - started).total_seconds() / 3600, 1.0) if started else None
    total_designs = total_verifs = None
    if started is not None:
        total_designs = Design.objects.real().filter(created_at__gte=started).exclude(
            origin_kind=Design.OriginKind.SEED).count()
        total_verifs = Verification.objects.real().filter(_population(run), finished_at__gte=started, status__in=(
            Verification.Status.DONE, Verification.Status.FAILED)).count()
    window_h = min(float(hours), span_h) if span_h else float(hours)
    return {
        "hours": hours,
        "designs_last_hour": sum(1 for t, _ in designs if t >= last_hour),
        "designs_window": len(designs),
        "designs_valid_window": sum(1 for _, s in designs if s != Design.Status.INVALID),
        "designs_per_hour": len(designs) / window_h,
        "verifications_last_hour": sum(1 for t, _ in verifs if t >= last_hour),
        "verifications_window": len(verifs),
        "verifications_failed_window": sum(1 for _, s in verifs if s == Verification.Status.FAILED),
        "verifications_per_hour": len(verifs) / window_h,
        "since_start_h": span_h,
        "designs_per_hour_run": total_designs / span_h if span_h else None,
        "verifications_per_hour_run": total_verifs / span_h if span_h else None,
        "chart": {"t": [b.isoformat() for b in bins], "designs": hourly([t for t, _ in designs]),
                  "verifications": hourly([t for t, _ in verifs])},
    }


# ---- workers ---------------------------------------------------------------------------------------

def worker_rows(run: EvolutionRun | None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Queued and running jobs, running first: kind, worker, design, progress and heartbeat age."""
    now = now or timezone.now()
    stale_after = LoopSettings.from_dict(run.settings if run else None).stale_after_s
    qs = Job.objects.filter(status__in=Job.ACTIVE).select_related("design", "verification")
    if run is not None:
        qs = qs.filter(Q(run=run) | Q(run__isnull=True))
    rows = []
    for job in qs.order_by("status", "id")[:200]:  # "queued" < "running": reversed below
        age = (now - job.heartbeat_at).total_seconds() if job.heartbeat_at else None
        progress = dict(job.progress or {})
        step, total = progress.get("step"), progress.get("total_steps")
        rows.append({
            "job": job, "kind": job.kind, "status": job.status, "worker": job.worker, "design": job.design,
            "rung": job.verification.rung if job.verification else progress.get("rung"),
            "progress": progress, "attempts": job.attempts,
            "fraction": (step / total) if isinstance(step, (int, float)) and total else None,
            "heartbeat_at": job.heartbeat_at, "heartbeat_age_s": age,
            "stale": age is not None and age > stale_after,
            "running_s": (now - job.started_at).total_seconds() if job.started_at else None,
        })
    rows.sort(key=lambda r: (r["status"] != Job.Status.RUNNING, r["job"].id))
    return rows


def worker_summary(run: EvolutionRun | None, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per job kind: the slots the settings allow and how many are busy or waiting."""
    settings = LoopSettings.from_dict(run.settings if run else None)
    slots = {Job.Kind.DESIGN: settings.design_workers, Job.Kind.VERIFY: settings.verify_workers}
    out = []
    for kind in (Job.Kind.DESIGN, Job.Kind.CHECK, Job.Kind.VERIFY):
        running = sum(1 for r in rows if r["kind"] == kind and r["status"] == Job.Status.RUNNING)
        queued = sum(1 for r in rows if r["kind"] == kind and r["status"] == Job.Status.QUEUED)
        out.append({"kind": kind, "slots": slots.get(kind), "running": running, "queued": queued})
    return out


def running_verifications(design_id: int) -> list[dict[str, Any]]:
    """A design's verifications that are running now, with the latest progress their worker reported."""
    jobs = (Job.objects.filter(design_id=design_id, kind=Job.Kind.VERIFY, status=Job.Status.RUNNING)
            .select_related("verification").order_by("id"))
    out = []
    for job in jobs:
        v = job.verification
        if v is None or v.status != Verification.Status.RUNNING:
            continue
        out.append({"verification": v.id, "rung": v.rung, "progress": dict(job.progress or {}),
                    "worker": job.worker, "started_at": v.started_at, "heartbeat_at": job.heartbeat_at})
    covered = {r["verification"] for r in out}
    for v in Verification.objects.filter(design_id=design_id, status=Verification.Status.RUNNING):
        if v.id not in covered:  # started by a script or an API client rather than a job
            out.append({"verification": v.id, "rung": v.rung, "progress": {}, "worker": "",
                        "started_at": v.started_at, "heartbeat_at": None})
    return out


# ---- the event feed --------------------------------------------------------------------------------

def recent_events(limit: int = FEED_LENGTH) -> list[dict[str, Any]]:
    """The latest events, newest first, each with a one-line description for people."""
    events = Event.objects.exclude(kind__in=QUIET_KINDS).select_related("actor", "design").order_by("-id")[:limit]
    return [{"event": e, "text": describe(e)} for e in events]


def describe(event: Event) -> str:
    p = event.payload or {}
    kind = event.kind
    if kind == "verification.done":
        return f"verified at {p.get('rung')}: fitness {_f(p.get('fitness'))} (design {_f(p.get('design_fitness'))}, " \
               f"{p.get('confidence', 0)} rung{'s' if p.get('confidence') != 1 else ''})"
    if kind == "verification.failed":
        return f"verification at {p.get('rung')} failed"
    if kind in ("verification.queued", "verification.running", "verification.paused"):
        reason = f" ({p['reason']})" if p.get("reason") else ""
        return f"verification at {p.get('rung')} {kind.split('.')[1]}{reason}"
    if kind == "design.created":
        origin = {"seed": "seeded", "upload": "uploaded", "gp": "made by the GP designer",
                  "llm": "made by the LLM designer"}.get(p.get("origin_kind", ""), "created")
        return f"{origin}, generation {p.get('generation', '?')}, {p.get('status', '')}"
    if kind == "design.parent_requested":
        return f"asked for a {p.get('mode', '')} of this design"
    if kind == "request.taken":
        return f"request #{p.get('request')} ({p.get('mode', '')}) given design job #{p.get('job')}"
    if kind == "request.done":
        made = p.get("result") or {}
        return f"request #{p.get('request')} made {made.get('name', 'a design')} ({made.get('status', '')})"
    if kind == "request.failed":
        return f"request #{p.get('request')} failed: {str(p.get('error') or '')[:200]}"
    if kind == "design.seeded":
        return "made a seed"
    if kind in ("design.approved", "design.vetoed"):
        reason = p.get("reason") or ""
        return f"{kind.split('.')[1]}{': ' + reason if reason else ''}"
    if kind.startswith("job."):
        what = kind.split(".")[1]
        extra = p.get("category") or p.get("reason") or p.get("worker") or ""
        return f"{p.get('kind', '')} job #{p.get('job')} {what}{': ' + clip(extra, 200) if extra else ''}"
    if kind.startswith("upload."):
        return _describe_upload(kind, p)
    if kind == "run.state_changed":
        return f"run {p.get('from')} → {p.get('to')}"
    if kind == "run.settings_changed":
        changes = p.get("changes") or {}
        return "settings changed: " + clip(", ".join(f"{k} = {v}" for k, v in changes.items()), 300)
    if kind == "annotation.created":
        return "annotated" + (f": {clip(p.get('text'), 200)}" if p.get("text") else "")
    return kind


def _describe_upload(kind: str, p: dict[str, Any]) -> str:
    """An upload's name, what became of it and why: `upload.checked` (any verdict) or `upload.<verdict>`."""
    status = str(p.get("status") or kind.split(".", 1)[1])
    name = f"{p['name']} " if p.get("name") else ""
    reason = p.get("reason") or p.get("error") or ""
    if status == "checking":
        return f"upload {name}is being checked"
    verdict = {"accepted": "accepted", "rejected": "rejected by the checker", "unreadable": "could not be read",
               "duplicate": "is a duplicate", "failed": "could not be checked"}.get(status, status)
    return f"upload {name}{verdict}" + (f": {clip(reason, 300)}" if reason else "")


def _f(value) -> str:
    return "–" if value is None else f"{float(value):.4f}"


# ---- the page --------------------------------------------------------------------------------------

def run_summary(run: EvolutionRun | None) -> dict[str, Any]:
    counts = dict(Design.objects.real().values_list("status").annotate(n=Count("id")))
    best = (Design.objects.real().filter(fitness__isnull=False).exclude(verdict=Design.Verdict.VETOED)
            .order_by("-confidence", "-fitness").values("name", "slug", "fitness", "fitness_std", "confidence").first())
    if best is not None:
        best["half_width"] = Z_95 * best["fitness_std"] if best["fitness_std"] is not None else None
    # Designs with a verification running now, whatever their status (a verified design climbing to
    # the next rung is being verified too); those only waiting for a worker are counted apart.
    running = set(Verification.objects.filter(status=Verification.Status.RUNNING).values_list("design_id", flat=True))
    waiting = set(Verification.objects.filter(status=Verification.Status.QUEUED).values_list("design_id", flat=True))
    return {
        "designs": sum(counts.values()), "by_status": counts,
        "verified": counts.get(Design.Status.VERIFIED, 0), "verifying": len(running),
        "verify_queued": len(waiting - running),
        "best": best, "settings": LoopSettings.from_dict(run.settings if run else None),
    }


# ---- rank agreement between rungs --------------------------------------------------------------------

def rank_agreement(run: EvolutionRun | None) -> list[dict[str, Any]]:
    """For each pair of rungs with designs verified at both: Spearman's rho between the two rungs'
    fitness over those designs, and n. A rung whose population mixes metrics (a run changed its
    `fitness_metric`) is read in its most common metric, so one ranking is never two units."""
    rows = (Verification.objects.filter(_population(run), status=Verification.Status.DONE, fitness__isnull=False)
            .values_list("rung", "fitness_metric", "design_id", "fitness"))
    by_metric: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for rung, metric, design, fitness in rows:
        by_metric[rung][metric][design] = fitness
    values = {rung: max(metrics.values(), key=len) for rung, metrics in by_metric.items() if is_ladder_rung(rung)}
    names = sorted(values, key=rung_index)
    out = []
    for i, low in enumerate(names):
        for high in names[i + 1:]:
            shared = sorted(set(values[low]) & set(values[high]))
            if not shared:
                continue
            rho = spearman([values[low][d] for d in shared], [values[high][d] for d in shared])
            note = "" if rho is not None else (
                f"too few designs (n={len(shared)})" if len(shared) < MIN_N else "no spread at one rung")
            out.append({"low": low, "high": high, "n": len(shared), "rho": rho, "note": note})
    return out
