"""`python -m verifier.core check <design.json | unit-folder | gab.py | seed> --out report.json`
and `python -m verifier.core size <design> --target N`.

`check` exits 0 only when the design passed (1: it failed, 2: it could not be checked here).
Runs with torch alone, e.g. on a GPU host; the checks themselves run on the CPU in the sandbox.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from .config import CheckConfig


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="run the checker on a design (exit 0 only when it passes)")
    p.add_argument("design", help="design JSON, unit folder, single-file GAB (.py) or seed name")
    p.add_argument("--out", help="write the report as JSON to this file")
    p.add_argument(
        "--focus-unit", help="check this unit with the accepted ones; unwritten units become placeholders"
    )
    p.add_argument("--static-only", action="store_true", help="only the static checks (nothing is executed)")
    p.add_argument("--sandbox", choices=("auto", "bubblewrap", "rlimit"), help="isolation (default: auto)")
    p.add_argument("--timeout", type=float, help="wall-clock limit of the runtime stage, seconds")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any CheckConfig field, e.g. --set d_model=64 --set train_steps=30",
    )
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run_check)

    s = sub.add_parser("size", help="find d_model and n_block giving a target non-embedding parameter count")
    s.add_argument("design", help="design JSON, unit folder, single-file GAB (.py) or seed name")
    s.add_argument("--target", type=float, required=True, help="non-embedding parameters, e.g. 14e6")
    s.add_argument("--d-model", type=int, default=128)
    s.add_argument("--n-block", type=int, default=6)
    s.add_argument("--tolerance", type=float, default=0.2)
    s.set_defaults(func=run_size)


def _config(args: argparse.Namespace) -> CheckConfig:
    config = CheckConfig()
    changes: dict[str, Any] = {}
    if getattr(args, "sandbox", None):
        changes["sandbox"] = args.sandbox
    if getattr(args, "timeout", None):
        changes["timeout_s"] = args.timeout
    types = {f.name: f.type for f in dataclasses.fields(CheckConfig)}
    for item in getattr(args, "set", []):
        key, _, raw = item.partition("=")
        if key not in types:
            raise SystemExit(f"error: unknown setting {key!r}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        changes[key] = tuple(value) if isinstance(value, list) else value
    return config.replace(**changes)


def run_check(args: argparse.Namespace) -> int:
    from .files import check_path
    from .sandbox import SandboxUnavailable

    config = _config(args)
    stages = ("static",) if args.static_only else ("static", "runtime")
    try:
        _, report = check_path(args.design, config, focus_unit=args.focus_unit, stages=stages)
    except SandboxUnavailable as exc:
        print(f"error: no sandbox: {exc}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    if not args.quiet:
        print(report.format_text())
    elif not report.passed:
        print(report.format_text(), file=sys.stderr)
    return 0 if report.passed else 1


def run_size(args: argparse.Namespace) -> int:
    from ..design_io import load_design
    from ..gau.tree import TreeError
    from ..sizing import SizingError
    from .pipeline import tune_design_size

    try:
        tree = load_design(args.design)
        result = tune_design_size(tree, int(args.target), args.d_model, args.n_block, args.tolerance)
    except (SizingError, TreeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "d_model": result.d_model,
                "n_block": result.n_block,
                "params": result.params,
                "target": result.target,
                "ratio": round(result.ratio, 4),
            }
        )
    )
    return 0
