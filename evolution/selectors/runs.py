"""What a promotion would do now: the next rung, its estimated cost and the budget left."""

from __future__ import annotations

from dataclasses import dataclass

from evolution.core.ladder import RungInfo, default_budgets, ladder, rung, rung_index
from evolution.models import Design, EvolutionRun, Verification
from verifier.core.train.ladder import next_rung


@dataclass
class PromotionInfo:
    run_name: str
    next_rung: RungInfo | None
    budget: int
    budget_left: int
    existing: Verification | None  # a verification already queued or running at that rung
    reason: str  # why promotion is not offered, if it is not

    @property
    def possible(self) -> bool:
        return self.next_rung is not None and not self.reason


def active_run() -> EvolutionRun | None:
    return EvolutionRun.objects.filter(is_active=True).first()


def run_budgets(run: EvolutionRun | None) -> dict[str, int]:
    return dict(run.budgets) if run is not None and run.budgets else default_budgets()


def budgets_overview(run: EvolutionRun | None) -> list[dict]:
    budgets = run_budgets(run)
    used: dict[str, int] = {}
    if run is not None:
        for rung, in Verification.objects.filter(run=run).exclude(status="failed").values_list("rung"):
            used[rung] = used.get(rung, 0) + 1
    return [
        {"rung": r, "budget": budgets[r.name], "used": used.get(r.name, 0), "left": budgets[r.name] - used.get(r.name, 0)}
        for r in ladder() if r.name in budgets
    ]


def promotion_info(design: Design, run: EvolutionRun | None = None) -> PromotionInfo:
    run = run or active_run()
    budgets = run_budgets(run)
    verifications = list(design.verifications.all())
    done = [v for v in verifications if v.status == Verification.Status.DONE]
    # One definition of the next rung (the ladder's); a smoke-test rung (`test`) is a step only of a
    # run that verifies at it.
    following = next_rung([v.rung for v in done], [r.name for r in ladder() if r.name in budgets])
    target = rung(following) if following else None
    name = run.name if run else "default"
    if target is None:
        return PromotionInfo(name, None, 0, 0, None, _no_rung_left(done, budgets, name))
    used = 0
    if run is not None:
        used = Verification.objects.filter(run=run, rung=target.name).exclude(status="failed").count()
    existing = next((v for v in verifications if v.rung == target.name and v.status != "failed"), None)
    reason = ""
    if design.is_vetoed:
        reason = "vetoed designs are not promoted"
    elif design.status in (Design.Status.INVALID, Design.Status.UNCHECKED, Design.Status.PROPOSED,
                           Design.Status.IMPLEMENTING):
        reason = f"only checked designs are promoted (this one is {design.status})"
    elif existing is not None:
        reason = f"already {existing.status} at {target.name}"
    elif budgets[target.name] - used <= 0:
        reason = f"the {target.name} budget is spent"
    return PromotionInfo(name, target, budgets[target.name], budgets[target.name] - used, existing, reason)


def _no_rung_left(done: list[Verification], budgets: dict[str, int], run_name: str) -> str:
    """Why there is no rung to promote to, in the run's own terms."""
    verified = sorted({v.rung for v in done}, key=rung_index)
    run_rungs = [r.name for r in ladder() if r.name in budgets]
    if not run_rungs:
        return f"the run ({run_name}) verifies at no rung: no budgets are set"
    if verified and not set(verified) & set(run_rungs):
        return (f"verified at {', '.join(verified)}, above every rung this run verifies at "
                f"({', '.join(run_rungs)}): give a higher rung a budget to promote it")
    return f"verified at every rung this run verifies at ({', '.join(run_rungs)})"
