"""Is one screen seed enough? Every design of the rank-agreement set screened again with another
training seed, against its first screen and against the rungs above.

    GENESYS_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_screen_seeds.py --seed 1 \
        [--rung screen] [--evidence benchmarks/evidence/rank_agreement] [--out /tmp/screen-seeds] [--jobs 2] [--no-run]

Runs `verify DESIGN --rung RUNG --seed S` for each design in EVIDENCE/designs and the seeds (a
contained child each, cached under OUT, so it resumes), keeps the reports in EVIDENCE/RUNG-seed-S/
beside the first seed's in EVIDENCE/RUNG/ (RUNG: a screen rung, `screen` or the first screen, `screen-65k`),
then prints, for the screen score and its two halves: the test-retest rho (first seed against S),
each seed and the mean of the two against micro and tiny (minus validation loss), and the funnel
(bench_rank_agreement.py's: tiny's best quarter kept in the predictor's best quarter and half).
Functional and near clones count once, as in bench_rank_agreement.py.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from verifier.core.train.ladder import DEFAULT_SEED  # noqa: E402
from verifier.core.train.report import VerificationReport  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_rank_agreement", ROOT / "benchmarks" / "bench_rank_agreement.py")
assert _spec is not None and _spec.loader is not None
rank = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rank)

PARTS = ("screen", "screen:lm", "screen:probes")


def read_screen(path: Path, rung: str = "screen") -> dict[str, float | None]:
    """The screen score and its halves from a report, scored by `rung`'s definition and labelled as
    PARTS (None each when missing or failed)."""
    try:
        report = VerificationReport.read(path)
    except (OSError, ValueError):
        report = None
    halves = rank.screen_parts(report, rung)
    return {"screen": rank.metric(report, rung), "screen:lm": halves[f"{rung}:lm"],
            "screen:probes": halves[f"{rung}:probes"]}


def read_loss(path: Path, rung: str) -> float | None:
    try:
        return rank.metric(VerificationReport.read(path), rung)
    except (OSError, ValueError):
        return None


def table_of(evidence: Path, seed: int, rung: str = "screen") -> dict[str, dict[str, float | None]]:
    """Per design: the first seed's screen parts, seed S's (suffixed @S), micro and tiny."""
    table: dict[str, dict[str, float | None]] = {}
    for design in sorted((evidence / rung).iterdir(), key=lambda d: rank.design_order(d.name)):
        row = read_screen(design / "report.json", rung)
        again = read_screen(evidence / f"{rung}-seed-{seed}" / design.name / "report.json", rung)
        row.update({f"{k}@{seed}": v for k, v in again.items()})
        for part in PARTS:
            a, b = row[part], again[part]
            row[f"{part}@mean"] = None if a is None or b is None else (a + b) / 2
        for above in ("micro", "tiny"):
            row[above] = read_loss(evidence / above / design.name / "report.json", above)
        table[design.name] = row
    return table


def distinct(table: dict[str, dict[str, float | None]]) -> dict[str, dict[str, float | None]]:
    """Functional clones (identical first-seed screens) and near clones counted once."""
    clones = rank.functional_clones(table, list(PARTS))
    kept = {n: row for n, row in table.items() if n not in clones}
    near = rank.near_clones({n: {k: row.get(k) for k in ("screen:lm", "micro", "tiny")} for n, row in kept.items()})
    return {n: row for n, row in kept.items() if n not in near}


def report_lines(table: dict[str, dict[str, float | None]], seed: int) -> list[str]:
    lines = []
    for part in PARTS:
        lines.append(rank.agreement(table, part, f"{part}@{seed}") + "   (test-retest)")
        for target in ("micro", "tiny"):
            for column in (part, f"{part}@{seed}", f"{part}@mean"):
                lines.append(rank.agreement(table, column, target))
        lines += rank.recall_lines(table, [part, f"{part}@{seed}", f"{part}@mean"], "tiny")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, required=True, help=f"the second training seed (the first is {DEFAULT_SEED})")
    p.add_argument("--rung", default="screen", help="the screen rung (screen-65k: the first screen's reports)")
    p.add_argument("--evidence", type=Path, default=ROOT / "benchmarks" / "evidence" / "rank_agreement")
    p.add_argument("--out", type=Path, default=Path("/tmp/screen-seeds"), help="cache folder (resumable)")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=1800.0, help="wall seconds per run")
    p.add_argument("--no-run", action="store_true", help="only read what the evidence folder holds")
    args = p.parse_args(argv)
    if args.seed == DEFAULT_SEED:
        p.error(f"--seed must differ from the first screen's seed, {DEFAULT_SEED}")
    if not rank.is_screen(args.rung):
        p.error(f"--rung {args.rung} is not a screen rung")
    kept_dir = args.evidence / f"{args.rung}-seed-{args.seed}"
    if not args.no_run:
        designs = sorted((args.evidence / "designs").glob("*.json"))
        designs += [d for d in rank.make_designs(args.out, 0, 0) if d.stem not in {x.stem for x in designs}]
        cache = args.out / f"seed-{args.seed}"
        for design in designs:  # the cache reuses what the evidence already holds
            kept = kept_dir / design.stem / "report.json"
            target = cache / args.rung / design.stem / "report.json"
            if kept.exists() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(kept, target)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            run_one = functools.partial(rank.run_rung, rung=args.rung, out=cache, timeout_s=args.timeout,
                                        extra=["--seed", str(args.seed)])
            list(pool.map(run_one, designs))
        for design in designs:
            report = cache / args.rung / design.stem / "report.json"
            if rank.finished(report):
                rank.keep_report(report, kept_dir / design.stem / "report.json")
    table = distinct(table_of(args.evidence, args.seed, args.rung))
    print(f"{len(table)} distinct designs; screen seeds {DEFAULT_SEED} and {args.seed}; micro and tiny: minus validation loss\n")
    for line in report_lines(table, args.seed):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
