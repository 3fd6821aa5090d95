"""CLI (registered by `python -m verifier.core`):

    export RUN_DIR --out DIR [--design D] [--lineage JSON] [--license L] [--repo-id ID] [--push]
        a verification's output folder -> a Hugging Face model folder
    bundle RUN_DIR --out B.tar.gz [--design D]
        a verification's output folder -> its reproducibility bundle (rerun: verify --from-bundle B)

Both exit 0 on success, 2 with one line on stderr when the folder cannot be exported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    data_dir = os.environ.get("GENESYS_DATA_DIR")
    p = sub.add_parser("export", help="write a verified design as a Hugging Face model folder")
    p.add_argument("run_dir", type=Path, help="a verification's output folder (report.json, model.safetensors)")
    p.add_argument("--out", required=True, type=Path, help="the model folder to write")
    p.add_argument("--design", help="the design, when the folder has no design.json (seed, JSON, folder, gab.py)")
    p.add_argument("--lineage", type=Path, help="a JSON object for the model card (parents, operator, ancestors)")
    p.add_argument("--license", default="apache-2.0", help="licence field of the model card (default apache-2.0)")
    p.add_argument("--repo-id", help="the Hub name, for the model card's usage lines")
    p.add_argument("--push", action="store_true", help="upload to --repo-id afterwards (token: $HF_TOKEN)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument("--data-dir", type=Path, default=Path(data_dir) if data_dir else None,
                   help="data directory with the tokenizer (default: $GENESYS_DATA_DIR)")
    p.set_defaults(func=run_export)

    p = sub.add_parser("bundle", help="write a verification's reproducibility bundle (.tar.gz)")
    p.add_argument("run_dir", type=Path, help="a verification's output folder")
    p.add_argument("--out", required=True, type=Path, help="the .tar.gz to write")
    p.add_argument("--design", help="the design, when the folder has no design.json")
    p.add_argument("--data-dir", type=Path, default=Path(data_dir) if data_dir else None,
                   help="data directory to hash (default: $GENESYS_DATA_DIR)")
    p.set_defaults(func=run_bundle)


def _lineage(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the lineage must be a JSON object")
    return data


def run_export(args: argparse.Namespace) -> int:
    from . import ExportError, export_run, push_to_hub

    try:
        out = export_run(args.run_dir, args.out, design=args.design, lineage=_lineage(args.lineage),
                         data_dir=args.data_dir, license=args.license, repo_id=args.repo_id, overwrite=args.overwrite)
    except (ExportError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"exported to {out}")
    if args.push:
        if not args.repo_id:
            print("error: --push needs --repo-id", file=sys.stderr)
            return 2
        print(push_to_hub(out, args.repo_id, token=os.environ.get("HF_TOKEN")))
    return 0


def run_bundle(args: argparse.Namespace) -> int:
    from .bundle import make_bundle
    from .run_folder import RunFolderError

    try:
        out = make_bundle(args.run_dir, args.out, design=args.design, data_dir=args.data_dir)
    except (RunFolderError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"bundle written to {out}")
    return 0


def run_verify_from_bundle(args: argparse.Namespace) -> int:
    """`verify --from-bundle B --out DIR`: rerun, then say how close the loss curve came."""
    from .bundle import BundleError
    from .rerun import rerun_bundle

    human = sys.stderr if args.progress_jsonl == "-" else sys.stdout
    try:
        report, comparison, _ = rerun_bundle(args.from_bundle, args.out, args.data_dir, device=args.device,
                                             progress_jsonl=args.progress_jsonl, quiet=args.quiet)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(comparison.describe(), file=human)
    return {"done": 0, "interrupted": 3}.get(report.status, 1)
