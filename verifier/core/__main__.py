"""`python -m verifier.core <command>`: compose, check and verify designs with torch alone.

Each sub-command lives in its own module and registers itself through `add_parser(subparsers)`;
modules whose optional dependencies are missing are skipped with a note.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "verifier.core.cli_compose",
    "verifier.core.checker.cli",
    "verifier.core.train.cli",
    "verifier.core.export.cli",
    "verifier.core.screen.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verifier.core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that command is not part of this installation
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
