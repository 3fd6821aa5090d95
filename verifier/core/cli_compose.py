"""`python -m verifier.core compose <seed | design.json | unit-folder | gab.py>`."""

from __future__ import annotations

import argparse
import sys

from .design_io import load_design
from .gau.composer import compose
from .gau.tree import TreeError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compose", help="print the composed module of a design")
    p.add_argument("design", help="seed name (gpt, mamba2, retnet, rwkv6, ttt), design JSON, unit folder or gab.py")
    p.add_argument("--json", action="store_true", help="print the design's GAU tree as JSON instead")
    p.add_argument("--with-tests", action="store_true", help="append the units' @gau_test functions")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        tree = load_design(args.design)
        sys.stdout.write(tree.to_json() + "\n" if args.json else compose(tree, include_tests=args.with_tests))
    except (TreeError, OSError, SyntaxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
