"""How early does a run rank designs the way its end does? Read from the loss curves already kept.

    python benchmarks/bench_curve_agreement.py benchmarks/evidence/rank_agreement_set2 [...] \
        [--target tiny] [--early screen] [--steps 12,24,36,48]

Every kept report of the target rung (tiny) carries its training-loss curve. For each step k this
prints Spearman's rho (bootstrap 95% interval) between the target run's own training loss at step k
and its final validation loss, per evidence folder and pooled: the best a screen that is the target
run cut after k steps could do (an optimistic bound: the same seed and batches as the run it
predicts). Then, against the early rung's bpb (the screen's language-model half), where it is wrong:
the residual of a straight-line fit of the target's validation loss on the early rung's bpb, by the
units the designs contain (negative: the design trains better at the target than the screen says).
No run is made; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_rank_agreement import bootstrap_interval, spearman  # noqa: E402


def curve_rows(evidence: Path, target: str, early: str) -> dict[str, dict]:
    """{design: {"final": target's val loss, "curve": {step: loss}, "early": early bpb or None,
    "units": unit class names}} for the finished target reports of one evidence folder."""
    rows: dict[str, dict] = {}
    for report_path in sorted((evidence / target).glob("*/report.json")):
        report = json.loads(report_path.read_text())
        name = report_path.parent.name
        if report.get("status") != "done" or not isinstance(report.get("val_loss"), (int, float)):
            continue
        early_path = evidence / early / name / "report.json"
        early_report = json.loads(early_path.read_text()) if early_path.exists() else {}
        design_path = evidence / "designs" / f"{name}.json"
        units = sorted(json.loads(design_path.read_text()).get("units", {})) if design_path.exists() else []
        rows[name] = {"final": float(report["val_loss"]),
                      "curve": {int(p["step"]): float(p["loss"]) for p in report.get("loss_curve", [])},
                      "early": early_report.get("val_bpb") if early_report.get("status") == "done" else None,
                      "units": units}
    return rows


def rho_line(pairs: list[tuple[float, float]]) -> str:
    if len(pairs) < 3:
        return f"{'-':>24}"
    x, y = [p[0] for p in pairs], [p[1] for p in pairs]
    lo, hi = bootstrap_interval(x, y)
    return f"{spearman(x, y):+.2f} [{lo:+.2f}, {hi:+.2f}]".rjust(24)


def curve_table(groups: dict[str, dict[str, dict]], steps: list[int]) -> list[str]:
    lines = [f"{'set':22}{'n':>4}" + "".join(f"{'step ' + str(k):>24}" for k in steps) + f"{'early bpb':>24}"]
    for label, rows in groups.items():
        cells = []
        for k in steps:
            pairs = [(-r["curve"][k], -r["final"]) for r in rows.values() if k in r["curve"]]
            cells.append(rho_line(pairs))
        early = [(-r["early"], -r["final"]) for r in rows.values() if r["early"] is not None]
        lines.append(f"{label:22}{len(rows):>4}" + "".join(cells) + rho_line(early))
    return lines


def unit_residuals(rows: dict[str, dict], min_designs: int = 5) -> list[str]:
    """Mean residual (target val loss minus its straight-line prediction from the early bpb) of the
    designs holding each unit, against the rest: which units the screen misjudges."""
    have = {n: r for n, r in rows.items() if r["early"] is not None}
    if len(have) < 4:
        return []
    xs = [r["early"] for r in have.values()]
    ys = [r["final"] for r in have.values()]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    residual = {n: r["final"] - (my + slope * (r["early"] - mx)) for n, r in have.items()}
    by_unit: dict[str, list[str]] = defaultdict(list)
    for name, row in have.items():
        for unit in row["units"]:
            by_unit[unit].append(name)
    lines = []
    for unit, names in sorted(by_unit.items(), key=lambda kv: sum(residual[n] for n in kv[1]) / len(kv[1])):
        rest = [residual[n] for n in have if n not in names]
        if len(names) < min_designs or not rest:
            continue
        inside = sum(residual[n] for n in names) / len(names)
        lines.append(f"{unit:26} in {len(names):>3} designs: residual {inside:+.3f} nats; the other "
                     f"{len(rest):>3}: {sum(rest) / len(rest):+.3f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("evidence", type=Path, nargs="+", help="evidence folders (benchmarks/evidence/...)")
    p.add_argument("--target", default="tiny", help="the rung whose curves and final loss are read")
    p.add_argument("--early", default="screen", help="the rung whose bpb is compared (its folder)")
    p.add_argument("--steps", default="12,18,24,30,36,48,72", help="comma-separated steps of the target")
    args = p.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",") if s]
    per_set = {e.name: curve_rows(e, args.target, args.early) for e in args.evidence}
    groups = dict(per_set)
    if len(per_set) > 1:
        groups["all, pooled"] = {f"{label}/{n}": r for label, rows in per_set.items() for n, r in rows.items()}
    print(f"Spearman rho of {args.target}'s training loss at step k, and of {args.early}'s bpb, against "
          f"{args.target}'s final validation loss (95% bootstrap interval):\n")
    print("\n".join(curve_table(groups, steps)))
    pooled = groups[list(groups)[-1]]
    lines = unit_residuals(pooled)
    if lines:
        print(f"\nWhere {args.early}'s bpb misjudges {args.target} (residual of a straight-line fit, by unit):")
        print("\n".join(lines))
    empty = [label for label, rows in per_set.items() if not rows]
    if empty:
        print(f"\nno finished {args.target} report in: {', '.join(empty)}")
    return 0 if any(per_set.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
