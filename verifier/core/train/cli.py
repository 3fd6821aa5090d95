"""CLI of the verification engine (registered by `python -m verifier.core`):

    verify DESIGN --rung tiny --out DIR [--progress-jsonl PATH|-]   train + evaluate one design
    prepare-data --out DIR (--from EXISTING | --online)              make a data directory
    data-status [--data-dir DIR]                                     is verification's data there?
    ladder                                                           the rungs and their settings

`verify` exits 0 when the design was verified, 1 when the run failed (the report says why), 2 on a
usage error (no report), 3 when interrupted (run it again to resume). It runs the design's code only
in the sandbox (contained.py): without one, the report fails with `sandbox_unavailable`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from .report import json_safe
from .signals import install_sigterm_as_interrupt


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="train and evaluate a design at one rung of the ladder")
    p.add_argument("design", nargs="?", help="seed name, design JSON, unit folder or gab.py")
    p.add_argument("--rung", default="micro", help="screen, micro, tiny, 14M, 31M, 70M, 125M, 350M or test (default micro)")
    p.add_argument("--out", required=True, type=Path, help="folder for report.json, weights and checkpoints")
    p.add_argument("--data-dir", type=Path, default=_env_path("GENESYS_DATA_DIR"),
                   help="data directory (default: $GENESYS_DATA_DIR)")
    p.add_argument("--progress-jsonl", metavar="PATH", help="write progress events as JSON lines ('-': stdout)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--train-tokens", type=int, help="override the rung's token budget")
    p.add_argument("--tasks", help="comma-separated lm-eval tasks (default: the rung's)")
    p.add_argument("--eval-limit", help="examples per task, or 'all' (default: the rung's)")
    p.add_argument("--no-eval", action="store_true", help="train and validate only")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other option of VerifyConfig, the rung or the data (value parsed as JSON)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    # The sandboxed child this command starts (see contained.py); not for people.
    p.add_argument("--sandboxed-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--prepare-data", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run_verify)
    add_from_bundle(p)

    p = sub.add_parser("prepare-data", help="create or accept a data directory for verification")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--from", dest="source", type=Path, help="an existing folder with the layout of shared/data")
    p.add_argument("--online", action="store_true", help="download tokenizer, corpus and evaluation sets")
    p.add_argument("--tokenizer", default=None, help="hub tokenizer to download")
    p.add_argument("--corpus", default=None, help="hub dataset to download, as NAME or NAME:CONFIG")
    p.add_argument("--corpus-mib", type=int, default=512, help="how much of the corpus to download")
    p.set_defaults(func=run_prepare)

    p = sub.add_parser("data-status", help="say whether verification has the data it needs")
    p.add_argument("--data-dir", type=Path, default=_env_path("GENESYS_DATA_DIR"))
    p.set_defaults(func=run_data_status)

    p = sub.add_parser("ladder", help="print the ladder of rungs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_ladder)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def verify_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {"device": args.device, "seed": args.seed}
    if args.train_tokens:
        overrides["train_tokens"] = args.train_tokens
    if args.tasks:
        overrides["tasks"] = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    if args.eval_limit is not None:
        overrides["eval_limit"] = None if args.eval_limit == "all" else int(args.eval_limit)
    if args.no_eval:
        overrides["skip_eval"] = True
    if args.compile is not None:
        overrides["compile"] = args.compile
    if args.quiet:
        overrides["show_bar"] = False
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip().replace("-", "_")] = _parse_value(value)
    # JSON values -> what verify_design takes (a bundle's rerun passes its options this way)
    if isinstance(overrides.get("tasks"), list):
        overrides["tasks"] = tuple(overrides["tasks"])
    if isinstance(overrides.get("data"), dict):
        from .data import DataConfig

        overrides["data"] = DataConfig(**overrides["data"])
    return overrides


class JsonLines:
    """Progress events as one JSON object per line, flushed at once (a watcher tails the file)."""

    def __init__(self, target: str):
        self.stream: IO[str] = sys.stdout if target == "-" else open(target, "a", buffering=1)  # noqa: SIM115

    def __call__(self, event: dict[str, Any]) -> None:
        self.stream.write(json.dumps(json_safe(event), default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()


def run_verify(args: argparse.Namespace) -> int:
    """By default the parent of a sandboxed run (contained.py); with --sandboxed-child, the run."""
    from ..design_io import load_design
    from .ladder import get_rung
    from .verify import _split_overrides, prepare_token_cache, verify_design

    if args.from_bundle is not None:
        return run_from_bundle(args)
    try:
        args.rung = get_rung(args.rung).name
        if args.design is None:
            raise ValueError("name a DESIGN (or --from-bundle B)")
        tree = load_design(args.design)
        overrides = verify_overrides(args)
        _split_overrides(overrides)  # an unknown --set key is a usage error, before anything starts
        if args.prepare_data:
            problem = prepare_token_cache(args.data_dir, **overrides)
            print(problem or "data ready", file=sys.stderr if problem else sys.stdout)
            return 1 if problem else 0
    except (KeyError, ValueError, OSError, SyntaxError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.sandboxed_child:
        from .contained import run_contained

        return run_contained(args, tree, overrides)
    sink = JsonLines(args.progress_jsonl) if args.progress_jsonl else None
    human = sys.stderr if args.progress_jsonl == "-" else sys.stdout
    install_sigterm_as_interrupt()  # a cancelled worker job checkpoints like Ctrl-C
    from . import guarded

    # The audit hook, for good: after everything trusted is imported, before the design is composed.
    guard = guarded.install(args.out, args.data_dir, overrides.get("shared_cache_dir"), device=args.device,
                            evaluate=not overrides.get("skip_eval", False), screen=get_rung(args.rung).kind == "screen")
    try:
        report = verify_design(tree, args.rung, args.out, args.data_dir,
                               progress=guarded.progress_through(sink, guard), **overrides)
        report = guarded.settle(report, guard, args.out)
    except TypeError as exc:  # an unknown --set key
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if sink is not None:
            sink.close()
    if not args.sandboxed_child:
        print(summary(report.to_dict(), args.out), file=human)
    return {"done": 0, "interrupted": 3}.get(report.status, 1)


def add_from_bundle(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-bundle", type=Path, metavar="B",
                   help="rerun a reproducibility bundle instead of DESIGN: its design, rung, seed and options; "
                        "--out, --device, --data-dir, --progress-jsonl and --quiet are this machine's")


def run_from_bundle(args: argparse.Namespace) -> int:
    from ..export.cli import run_verify_from_bundle

    return run_verify_from_bundle(args)


def summary(report: dict[str, Any], out: Path) -> str:
    lines = [f"{report['design_name']} at {report['rung']}: {report['status']}"]
    if report.get("failure"):
        lines.append(f"  failure: {report['error']}")
    shape = report.get("shape") or {}
    if shape:
        lines.append(f"  shape: d_model={shape['d_model']} n_block={shape['n_block']} "
                     f"non-embedding params={shape['non_embedding_params']:,}")
    for key in ("final_train_loss", "val_loss", "tokens_per_s", "mfu", "fitness"):
        if report.get(key) is not None:
            lines.append(f"  {key}: {report[key]:.4g}")
    for task, row in (report.get("eval") or {}).items():
        acc = row.get("acc_norm", row.get("acc"))
        lines.append(f"  {task}: acc={acc if acc is None else round(acc, 4)} (n={row.get('samples')})")
    lines.append(f"  wall time: {report['wall_time_s'].get('total', 0):.1f}s; report: {Path(out) / 'report.json'}")
    return "\n".join(lines)


def run_prepare(args: argparse.Namespace) -> int:
    from .prepare_data import DEFAULT_HUB_CORPUS, DEFAULT_HUB_TOKENIZER, prepare_data

    corpus: tuple[str, str | None] = DEFAULT_HUB_CORPUS
    if args.corpus:
        name, _, config = args.corpus.partition(":")
        corpus = (name, config or None)
    ok, message = prepare_data(args.out, source=args.source, online=args.online,
                               tokenizer=args.tokenizer or DEFAULT_HUB_TOKENIZER, corpus=corpus,
                               corpus_bytes=args.corpus_mib * 2**20)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def run_data_status(args: argparse.Namespace) -> int:
    from .prepare_data import data_status

    ok, message = data_status(args.data_dir)
    print(("ok: " if ok else "NO DATA: ") + message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def run_ladder(args: argparse.Namespace) -> int:
    from .ladder import EXTRA_RUNGS, LADDER

    rungs = [*LADDER.values(), *EXTRA_RUNGS.values()]
    if args.json:
        print(json.dumps([r.to_dict() for r in rungs], indent=2))
        return 0
    print(f"{'rung':6} {'shape':>9} {'target':>12} {'tokens':>14} {'lr':>7} {'ctx':>5} {'batch':>8} {'budget':>6}  device")
    for r in rungs:
        print(f"{r.name:6} {f'{r.d_model}x{r.n_block}':>9} {r.target_params:>12,} {r.train_tokens:>14,} {r.lr:>7g} "
              f"{r.context_length:>5} {r.batch_tokens:>8,} {r.budget:>6}  {r.device}")
    return 0
