"""A run's tables for download: its designs, its verifications and its metrics (the ledger's and the
lineage figures, one row per metric, and the cumulative cost curve)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Q

from evolution.models import Design, DesignParent, EvolutionRun, Verification
from evolution.selectors.ledger import run_ledger
from evolution.selectors.lineage_stats import operator_label

TABLES = ("designs", "verifications", "metrics", "cost_curve")

DESIGN_COLUMNS = {
    "id": "int", "name": "str", "slug": "str", "generation": "int", "mode": "str", "operator": "str",
    "origin_kind": "str", "status": "str", "verdict": "str", "is_seed": "bool", "parents": "str",
    "fitness": "float", "fitness_std": "float", "confidence": "int", "tokens_in": "int", "tokens_out": "int",
    "cost_dollars": "float", "designer_seconds": "float", "cpu_seconds": "float", "gpu_seconds": "float",
    "created_at": "str",
}
VERIFICATION_COLUMNS = {
    "id": "int", "design_id": "int", "design": "str", "rung": "str", "seed": "int", "status": "str",
    "fitness": "float", "fitness_stderr": "float", "fitness_metric": "str", "val_bpb": "float",
    "final_loss": "float", "gpu_seconds": "float", "cpu_seconds": "float", "wall_seconds": "float",
    "error": "str", "created_at": "str", "started_at": "str", "finished_at": "str",
}
METRIC_COLUMNS = {"metric": "str", "scope": "str", "value": "float"}
CURVE_COLUMNS = {"t_s": "float", "dollars": "float", "gpu_hours": "float", "cpu_hours": "float",
                 "best_fitness": "float"}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def design_rows(run: EvolutionRun) -> list[dict[str, Any]]:
    designs = list(Design.objects.real().filter(run=run).order_by("id"))
    parents: dict[int, list[str]] = defaultdict(list)
    for child_id, name in DesignParent.objects.filter(child__in=designs).order_by("child_id", "position") \
            .values_list("child_id", "parent__name"):
        parents[child_id].append(name)
    return [{**{c: getattr(d, c) for c in DESIGN_COLUMNS if hasattr(d, c) and c not in ("created_at",)},
             "operator": operator_label(d.mode, d.origin_kind, d.origin), "parents": ";".join(parents.get(d.id, [])),
             "created_at": _iso(d.created_at)} for d in designs]


def verification_rows(run: EvolutionRun) -> list[dict[str, Any]]:
    rows = Verification.objects.real().filter(Q(run=run) | Q(design__run=run)).select_related("design").order_by("id")
    out = []
    for v in rows:
        metrics = v.metrics if isinstance(v.metrics, dict) else {}
        wall = (v.finished_at - v.started_at).total_seconds() if v.started_at and v.finished_at else None
        out.append({
            "id": v.id, "design_id": v.design_id, "design": v.design.name, "rung": v.rung, "seed": v.seed,
            "status": v.status, "fitness": v.fitness, "fitness_stderr": v.fitness_stderr,
            "fitness_metric": v.fitness_metric, "val_bpb": _number(metrics.get("val_bpb")),
            "final_loss": _number(metrics.get("final_loss")), "gpu_seconds": v.gpu_seconds,
            "cpu_seconds": v.cpu_seconds, "wall_seconds": wall, "error": v.error, "created_at": _iso(v.created_at),
            "started_at": _iso(v.started_at), "finished_at": _iso(v.finished_at),
        })
    return out


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def metric_rows(run: EvolutionRun, ledger: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per figure: the run's costs and fitness gained, each role's and each rung's costs."""
    data = ledger or run_ledger(run)
    rows = [{"metric": k, "scope": "run", "value": _number(v)} for k, v in data["run"].items()]
    rows += [{"metric": f"fitness_{k}", "scope": "run", "value": _number(v)} for k, v in data["fitness"].items()]
    for r in data["by_role"]:
        rows += [{"metric": k, "scope": f"role:{r['role']}", "value": _number(r[k])}
                 for k in ("tokens_in", "tokens_out", "dollars")]
    for r in data["by_rung"]:
        rows += [{"metric": k, "scope": f"rung:{r['rung']}", "value": _number(r[k])}
                 for k in ("verifications", "cpu_s", "gpu_s", "train_s", "wall_s")]
    return rows


def export_table(run: EvolutionRun, table: str) -> tuple[list[str], list[dict[str, Any]], dict[str, str]]:
    """(columns, rows, column types) of one of `TABLES`; KeyError for another name."""
    if table == "designs":
        return list(DESIGN_COLUMNS), design_rows(run), DESIGN_COLUMNS
    if table == "verifications":
        return list(VERIFICATION_COLUMNS), verification_rows(run), VERIFICATION_COLUMNS
    if table == "metrics":
        return list(METRIC_COLUMNS), metric_rows(run), METRIC_COLUMNS
    if table == "cost_curve":
        return list(CURVE_COLUMNS), run_ledger(run)["curve"], CURVE_COLUMNS
    raise KeyError(table)
