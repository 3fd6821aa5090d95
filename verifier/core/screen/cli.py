"""CLI of the screen (registered by `python -m verifier.core`):

    screen DESIGN [DESIGN ...] --out DIR    the cheap first stage: probes + a short LM run per design

Writes DIR/screen.json (`{"designs": [{"design", "score", "stderr", "components", "failure"}, ...]}`)
and one folder per design (its report.json and log). Exits 0 when every design was scored, 1 when
any failed (screen.json says which), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..train.cli import _env_path

    p = sub.add_parser("screen", help="screen designs cheaply (synthetic probes + a short LM run)")
    p.add_argument("designs", nargs="+", metavar="DESIGN", help="seed name, design JSON, unit folder or gab.py")
    p.add_argument("--out", required=True, type=Path, help="folder for screen.json and one folder per design")
    p.add_argument("--data-dir", type=Path, default=_env_path("GENESYS_DATA_DIR"))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--device", default="cpu", help="cpu (default), auto, cuda")
    p.add_argument("--timeout", type=float, default=None, help="wall-clock seconds per design (default 900)")
    p.add_argument("--no-eval", action="store_true", help="no multiple-choice evaluation (bpb and probes only)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to each design's `verify --rung screen` (e.g. probe_config='{\"steps\": 20}')")
    p.set_defaults(func=run_screen)


def run_screen(args: argparse.Namespace) -> int:
    from .run import DEFAULT_TIMEOUT_S, screen_designs

    verify_args = ["--seed", str(args.seed), "--device", args.device]
    if args.data_dir:
        verify_args += ["--data-dir", str(args.data_dir)]
    if args.no_eval:
        verify_args.append("--no-eval")
    for item in args.set:
        if "=" not in item:
            print(f"error: --set expects KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        verify_args += ["--set", item]
    result = screen_designs(args.designs, args.out, verify_args, args.timeout or DEFAULT_TIMEOUT_S,
                            log=lambda line: print(line, flush=True))
    print(f"screen: {args.out / 'screen.json'}")
    return 0 if all(d["failure"] is None for d in result["designs"]) else 1
