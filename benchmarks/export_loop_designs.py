"""Hand the designs a real loop made to the rank-agreement benchmark, with the loop's own reports.

    .venv/bin/python benchmarks/export_loop_designs.py --out DIR [--run ID ...] [--rung screen] [--all-checked]

Writes, for every checked design of the given runs (default: all runs) that has a finished
verification at `--rung`, its GAU tree as DIR/designs/loop-<id>.json and that verification's report
as DIR/<rung>/loop-<id>/report.json (a seed's report as DIR/<rung>/<seed name>/report.json): the layout `bench_rank_agreement.py --loop-designs` reads, so
the rungs above are run on designs the loop made, and the screen is not run twice (the stored
report is the loop's; the benchmark recomputes the score from its raw components). The seeds'
trees are the benchmark's own. A design verified more than once at the rung (a re-verified close call) keeps
its first finished verification, so every design has one draw as the loop saw it. With
`--all-checked`, designs the checker passed but the loop had not verified at `--rung` are written
too (tree only; the benchmark runs them), functional clones excepted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


PASSED = ("checked", "verifying", "verified")  # Design.Status values of designs the checker passed


def export(out: Path, runs: list[int], rung: str, all_checked: bool = False) -> list[str]:
    from django.db.models import Q

    from evolution.models import Design, Verification

    designs = Design.objects.exclude(tree=None).filter(Q(run__isnull=False) | Q(mode="seed")).order_by("id")
    if runs:
        designs = designs.filter(Q(run_id__in=runs) | Q(mode="seed"))
    written = []
    for design in designs:
        seed = design.mode == "seed"
        verification = (Verification.objects.filter(design=design, rung=rung, status="done")
                        .exclude(report=None).order_by("finished_at", "id").first())
        if verification is None:
            # all_checked: a design the checker passed and the loop had not verified yet (the
            # benchmark runs it); a functional clone of an earlier design counts once, as its twin
            if not (all_checked and not seed and design.status in PASSED and design.clone_of_id is None):
                continue
            name = f"loop-{design.id}"
            (out / "designs").mkdir(parents=True, exist_ok=True)
            (out / "designs" / f"{name}.json").write_text(json.dumps(design.tree, indent=2))
            written.append(name)
            continue
        name = design.name if seed else f"loop-{design.id}"
        if not seed:
            (out / "designs").mkdir(parents=True, exist_ok=True)
            (out / "designs" / f"{name}.json").write_text(json.dumps(design.tree, indent=2))
        folder = out / rung / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(json.dumps(verification.report, indent=2))
        (folder / "origin.json").write_text(json.dumps(
            {"design": design.name, "run": design.run_id, "mode": design.mode, "verification": verification.id,
             "seed": verification.seed, "cpu_seconds": verification.cpu_seconds}, indent=2))
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--run", type=int, action="append", default=[], help="run id (repeatable; default: all runs)")
    p.add_argument("--rung", default="screen")
    p.add_argument("--all-checked", action="store_true",
                   help="also designs the checker passed that have no finished verification at --rung "
                        "(the benchmark runs them); functional clones are left out")
    args = p.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "genesys_site.settings")
    import django

    django.setup()
    written = export(args.out, args.run, args.rung, args.all_checked)
    print(f"{len(written)} designs written to {args.out}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
