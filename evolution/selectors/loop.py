"""Reads the evolution loop needs: the population as selection sees it, the budgets, the jobs."""

from __future__ import annotations

from django.db.models import Count, Q

from evolution.core.ladder import rung_index
from evolution.core.selection import DesignState, RungBudget
from evolution.models import Design, DesignRequest, EvolutionRun, Job, Verification

IMPLEMENTED = (Design.Status.CHECKED, Design.Status.VERIFYING, Design.Status.VERIFIED)


def run_rung_names(run: EvolutionRun) -> list[str]:
    """The run's rungs, in ladder order."""
    return sorted((run.budgets or {}).keys(), key=rung_index)


def rung_budgets(run: EvolutionRun) -> list[RungBudget]:
    used = dict(
        Verification.objects.filter(run=run).exclude(status=Verification.Status.FAILED)
        .values_list("rung").annotate(n=Count("id")).values_list("rung", "n")
    )
    return [RungBudget(name, int(run.budgets[name]), int(used.get(name, 0))) for name in run_rung_names(run)]


def design_states(run: EvolutionRun | None = None) -> list[DesignState]:
    """Every design as selection sees it (seeds and uploads belong to every run)."""
    qs = Design.objects.real().exclude(status=Design.Status.INVALID).prefetch_related("verifications")
    if run is not None:
        qs = qs.filter(Q(run=run) | Q(run__isnull=True))
    states = []
    for d in qs:
        rows = list(d.verifications.all())
        seeds: dict[str, tuple[int, ...]] = {}
        for v in rows:
            seeds[v.rung] = (*seeds.get(v.rung, ()), v.seed)
        states.append(DesignState(
            id=d.id, fitness=d.fitness,
            fitness_std=d.fitness_std,
            verified_rungs=_rungs(rows, Verification.Status.DONE), is_seed=d.is_seed,
            implemented=d.status in IMPLEMENTED, vetoed=d.is_vetoed,
            busy_rungs=_rungs(rows, Verification.Status.QUEUED, Verification.Status.RUNNING),
            failed_rungs=_rungs(rows, Verification.Status.FAILED), seeds=seeds,
        ))
    return states


def _rungs(rows: list[Verification], *statuses: str) -> tuple[str, ...]:
    """The rungs (each once, however many seeds ran there) of the verifications in `statuses`."""
    return tuple(dict.fromkeys(v.rung for v in rows if v.status in statuses))


def active_jobs(run: EvolutionRun, kind: str) -> int:
    """The loop's own active jobs of a kind; a researcher's request runs in a slot of its own."""
    return Job.objects.filter(run=run, kind=kind, status__in=Job.ACTIVE).exclude(params__has_key="request").count()


def queued_requests(run: EvolutionRun) -> list[DesignRequest]:
    """Researchers' design requests that no job carries yet, oldest first."""
    return list(DesignRequest.objects.filter(run=run, status=DesignRequest.Status.QUEUED).order_by("id"))


def queued_verifications_without_job(run: EvolutionRun) -> list[Verification]:
    """Queued verifications (a promotion, say) that no job carries yet, oldest first."""
    carried = Job.objects.filter(kind=Job.Kind.VERIFY, status__in=Job.ACTIVE).values("verification_id")
    return list(
        Verification.objects.filter(status=Verification.Status.QUEUED)
        .filter(Q(run=run) | Q(run__isnull=True))
        .exclude(id__in=carried).select_related("design").order_by("id")
    )


def unchecked_seeds_never_checked(run: EvolutionRun) -> list[Design]:
    """Seeds stored without the checker (`seed_designs --no-check`) that no check job of this run has
    taken up yet; one whose check failed to run keeps its failed job and is not retried here."""
    tried = Job.objects.filter(run=run, kind=Job.Kind.CHECK, design__isnull=False).values("design_id")
    return list(Design.objects.real().filter(is_seed=True, status=Design.Status.UNCHECKED)
                .exclude(id__in=tried).order_by("id"))


def designs_made(run: EvolutionRun) -> int:
    """Designs the loop made on its own (researchers' requests do not count against `max_designs`)."""
    return (Job.objects.filter(run=run, kind=Job.Kind.DESIGN, status=Job.Status.DONE)
            .exclude(params__has_key="request").count())
