"""The paper's Table 4 ablations: the same proposals implemented with parts of the pipeline switched
off, to compare how many designs come out valid, in how many attempts, and at what size and cost.

Run `compare(...)` with a real key to reproduce the table; the paper's figures are kept here to set
the numbers side by side.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .config import Ablation
from .result import DesignerResult

VARIANTS: dict[str, Ablation] = {
    "full": Ablation(),
    "no_unit_by_unit": Ablation(unit_by_unit=False),
    "no_checker": Ablation(checker=False),
    "no_planner": Ablation(planner=False),
    "no_observer": Ablation(observer=False),
    "direct": Ablation(direct=True),
}

# Paper, Table 4 (100 proposals): share of valid designs, and attempts (mean, sd) where given.
PAPER_TABLE_4: dict[str, dict[str, Any]] = {
    "full": {"valid": 0.92, "attempts": (2.6, 1.1)},
    "no_unit_by_unit": {"valid": 0.73},
    "no_checker": {"valid": 0.30},
    "direct": {"valid": 0.06},
}


def variant(name: str) -> Ablation:
    try:
        return VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown ablation {name!r}; expected one of {', '.join(VARIANTS)}") from None


@dataclass
class AblationRow:
    variant: str
    designs: int
    valid: float
    attempts_mean: float
    attempts_sd: float
    tokens_mean: float
    lines_mean: float
    dollars_mean: float
    paper_valid: float | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def summarize(name: str, results: Iterable[DesignerResult]) -> AblationRow:
    """One row of the comparison from the results of one variant."""
    rows = list(results)
    attempts = [r.metrics.get("attempts", 0) for r in rows]
    n = len(rows)
    return AblationRow(
        variant=name,
        designs=n,
        valid=sum(1 for r in rows if r.metrics.get("valid")) / n if n else 0.0,
        attempts_mean=statistics.fmean(attempts) if attempts else 0.0,
        attempts_sd=statistics.stdev(attempts) if len(attempts) > 1 else 0.0,
        tokens_mean=statistics.fmean(r.cost.tokens_in + r.cost.tokens_out for r in rows) if n else 0.0,
        lines_mean=statistics.fmean(r.metrics.get("lines_of_code", 0) for r in rows) if n else 0.0,
        dollars_mean=statistics.fmean(r.cost.dollars for r in rows) if n else 0.0,
        paper_valid=PAPER_TABLE_4.get(name, {}).get("valid"),
    )


def compare(results_by_variant: dict[str, list[DesignerResult]]) -> list[AblationRow]:
    return [summarize(name, results) for name, results in results_by_variant.items()]


def format_table(rows: list[AblationRow]) -> str:
    head = f"{'variant':<17}{'designs':>8}{'valid':>8}{'paper':>8}{'attempts':>14}{'tokens':>10}{'LOC':>7}{'$':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        paper = f"{r.paper_valid:.0%}" if r.paper_valid is not None else "-"
        lines.append(f"{r.variant:<17}{r.designs:>8}{r.valid:>8.0%}{paper:>8}"
                     f"{r.attempts_mean:>8.1f} ± {r.attempts_sd:<3.1f}{r.tokens_mean:>10.0f}{r.lines_mean:>7.0f}"
                     f"{r.dollars_mean:>8.3f}")
    return "\n".join(lines)
