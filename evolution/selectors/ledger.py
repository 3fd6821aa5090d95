"""The cost ledger of a run, read from the tables (see `evolution.core.ledger` for what is counted)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Q, Sum

from evolution.core.ladder import rung as rung_info
from evolution.core.ledger import DesignCost, VerificationCost, ledger
from evolution.models import CheckRun, Design, DesignParent, EvolutionRun, Verification

NOT_BY_ROLE = "(not by role)"


def _population(run: EvolutionRun):
    """The run's designs and the starting population it breeds from (no run: seeds, uploads)."""
    return Design.objects.real().filter(Q(run=run) | Q(run__isnull=True))


def design_costs(run: EvolutionRun) -> list[DesignCost]:
    rows = list(_population(run).values("id", "name", "run_id", "created_at", "fitness", "designer_metrics",
                                        "tokens_in", "tokens_out", "cost_dollars", "designer_seconds",
                                        "cpu_seconds"))
    ids = [r["id"] for r in rows]
    parents: dict[int, list[int]] = defaultdict(list)
    for parent_id, child_id in DesignParent.objects.filter(child_id__in=ids).order_by("child_id", "position") \
            .values_list("parent_id", "child_id"):
        parents[child_id].append(parent_id)
    checks = dict(CheckRun.objects.filter(design_id__in=ids).values("design_id").annotate(s=Sum("cpu_seconds"))
                  .values_list("design_id", "s"))
    out = []
    for r in rows:
        metrics = r["designer_metrics"] if isinstance(r["designer_metrics"], dict) else {}
        tokens = _tokens_by_role(metrics.get("tokens_by_role"))
        dollars = _dollars_by_role(metrics.get("dollars_by_role"))
        if not tokens and (r["tokens_in"] or r["tokens_out"]):
            tokens = {NOT_BY_ROLE: (int(r["tokens_in"]), int(r["tokens_out"]))}
        unattributed = max(0.0, float(r["cost_dollars"] or 0.0) - sum(dollars.values()))
        out.append(DesignCost(
            id=r["id"], name=r["name"], parents=tuple(parents.get(r["id"], ())), in_run=r["run_id"] == run.id,
            created_s=max(0.0, (r["created_at"] - run.created_at).total_seconds()), fitness=r["fitness"],
            tokens=tokens, dollars=dollars, unattributed_dollars=unattributed if unattributed > 1e-9 else 0.0,
            design_cpu_s=float(r["cpu_seconds"] or 0.0), check_cpu_s=float(checks.get(r["id"]) or 0.0),
            designer_wall_s=float(r["designer_seconds"] or 0.0),
        ))
    return out


def _tokens_by_role(raw: Any) -> dict[str, tuple[int, int]]:
    if not isinstance(raw, dict):
        return {}
    out = {}
    for role, pair in raw.items():
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, int) for x in pair):
            out[str(role)] = (int(pair[0]), int(pair[1]))
    return out


def _dollars_by_role(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        return {}
    return {str(role): float(v) for role, v in raw.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def verification_costs(run: EvolutionRun) -> list[VerificationCost]:
    """Every verification the run paid for: its own, and those of its designs started elsewhere."""
    rows = Verification.objects.real().filter(Q(run=run) | Q(design__run=run)).order_by("id").values(
        "design_id", "rung", "gpu_seconds", "cpu_seconds", "started_at", "finished_at")
    out = []
    for r in rows:
        info = rung_info(r["rung"])
        wall = (r["finished_at"] - r["started_at"]).total_seconds() if r["started_at"] and r["finished_at"] else 0.0
        out.append(VerificationCost(
            design=r["design_id"], rung=r["rung"], device=info.device if info else "cuda",
            train_s=float(r["gpu_seconds"] or 0.0), cpu_s=float(r["cpu_seconds"] or 0.0), wall_s=max(0.0, wall),
            finished_s=(r["finished_at"] - run.created_at).total_seconds() if r["finished_at"] else None,
        ))
    return out


def run_ledger(run: EvolutionRun) -> dict[str, Any]:
    return ledger(design_costs(run), verification_costs(run))


def run_cost(run: EvolutionRun) -> dict[str, Any]:
    """The `cost` key of `manage.py run_report`: the ledger without the per-design rows."""
    data = run_ledger(run)
    data.pop("designs")
    return data
