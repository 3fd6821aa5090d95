"""Verify one design at one rung: data -> size -> train -> validate -> evaluate -> fitness -> report.

This is what `python -m verifier.core verify` runs and what the evolution's workers start as a
subprocess (generated code never runs inside a worker). Every way a run can end is written into
the report, a failure with its category; only a wrong call (an unknown rung or option) raises.
An interrupted run resumes from its checkpoint when started again with the same out_dir.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from ..cpu_time import cpu_seconds_now
from ..gau.composer import compose
from ..gau.loader import load_gab
from ..gau.tree import GAUTree
from ..sizing import SizingError
from .autotune import DesignBuildError, build_model, fit_to_rung
from .checkpoint import CHECKPOINT_NAME, WEIGHTS_NAME, save_weights
from .data import DataConfig, PackedSequences, default_cache_dir, load_token_stream, load_tokenizer
from .fitness import rung_fitness, task_scores
from .ladder import Rung, get_rung
from .monitor import Failure, RuntimeMonitor
from .prepare_data import data_status, read_manifest
from .report import VerificationReport
from .trainer import Trainer, TrainSettings, validate

Progress = Callable[[dict[str, Any]], None]
RUNG_FIELDS = {f.name for f in dataclasses.fields(Rung)} - {"name"}
DATA_FIELDS = {f.name for f in dataclasses.fields(DataConfig)}


@dataclass
class VerifyConfig:
    """How to run a verification; every field can be overridden through `verify_design(**overrides)`."""

    device: str = "auto"  # "auto" (CUDA when available), "cuda", "cuda:1", "cpu"
    threads: int | None = None  # torch CPU threads for this run (None: torch's default)
    seed: int = 42
    cache_dir: str | None = None  # tokenised data and rewritten task files (default: GENESYS_CACHE_DIR)
    shared_cache_dir: str | None = None  # a read-only cache of tokenised data looked in first (sandbox)
    train_tokens: int | None = None  # override the rung's token budget
    compile: bool | None = None  # torch.compile (None: on CUDA)
    bf16: bool = True
    chunked_ce: bool = True
    micro_batch: int | None = None
    max_micro_batch: int | None = None
    memory_cap_bytes: int | None = None
    step_time_limit_s: float | None = None  # None: the rung's; 0: no limit
    checkpoint_every_steps: int | None = None
    checkpoint_every_s: float = 600.0
    stop_after_step: int | None = None
    tasks: tuple[str, ...] | None = None  # None: the rung's
    eval_limit: int | None = -1  # -1: the rung's; None: every example
    eval_limits: dict[str, int | None] | None = None  # per-task limits on top of the rung's
    eval_batch_size: int | None = None  # None: 64 on CUDA, 16 on CPU
    eval_max_length: int | None = None  # None: the context length, at least 256
    skip_eval: bool = False
    save_weights: bool = True
    keep_checkpoint: bool = False
    show_bar: bool | None = None
    data: DataConfig | None = None  # None: from the data directory's manifest
    probe_config: dict[str, Any] | None = None  # screen rung: overrides of verifier.core.probes.ProbeConfig
    probes: tuple[str, ...] | None = None  # screen rung: which probes (None: all)


def _split_overrides(overrides: dict[str, Any]) -> tuple[dict, dict, dict]:
    cfg_fields = {f.name for f in dataclasses.fields(VerifyConfig)}
    rung_o, cfg_o, data_o = {}, {}, {}
    for key, value in overrides.items():
        if key in cfg_fields:
            cfg_o[key] = value
        elif key in RUNG_FIELDS:
            rung_o[key] = value
        elif key in DATA_FIELDS:
            data_o[key] = value
        else:
            raise TypeError(f"unknown verification option {key!r}")
    return rung_o, cfg_o, data_o


def _design(tree_or_source: GAUTree | str) -> tuple[str, str, str]:
    """(name, hash, composed source) of a GAU tree or of already composed source."""
    if isinstance(tree_or_source, GAUTree):
        return tree_or_source.name, tree_or_source.content_hash(), compose(tree_or_source)
    source = str(tree_or_source)
    return "gab", hashlib.sha256(source.encode()).hexdigest()[:16], source


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("torch", "transformers", "datasets", "lm_eval"):
        try:
            out[pkg] = importlib.metadata.version(pkg.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def verify_design(
    tree_or_source: GAUTree | str,
    rung: str,
    out_dir: Path,
    data_dir: Path | None,
    progress: Progress | None = None,
    **overrides: Any,
) -> VerificationReport:
    """Train the design at `rung`, evaluate it, and write `out_dir/report.json` (+ weights)."""
    rung_o, cfg_o, data_o = _split_overrides(overrides)
    the_rung = get_rung(rung).with_overrides(**rung_o)
    cfg = VerifyConfig(**cfg_o)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name, design_hash, source = _design(tree_or_source)
    report = VerificationReport(design_name=name, design_hash=design_hash, rung=the_rung.name, seed=cfg.seed,
                                versions=_versions(), started_at=_now())
    emit = progress or (lambda event: None)
    clock = _Clock(report)
    cpu_start = cpu_seconds_now()
    try:
        _run(report, source, the_rung, cfg, data_o, out_dir, data_dir, emit, clock)
    except _Stop:
        pass
    report.wall_time_s["total"] = clock.total()
    report.cpu_seconds = round(cpu_seconds_now() - cpu_start, 3)
    report.finished_at = _now()
    if report.failure is not None and report.status == "running":
        report.status = "failed"
    report.write(out_dir)
    emit({"event": "done", "status": report.status, "fitness": report.fitness, "failure": report.failure,
          "report": str(out_dir / "report.json")})
    return report


class _Stop(Exception):
    """The run ended early; the report says why."""


class _Clock:
    def __init__(self, report: VerificationReport):
        self.report, self.start, self.phase_start = report, time.perf_counter(), time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.report.wall_time_s[phase] = round(now - self.phase_start, 3)
        self.phase_start = now

    def total(self) -> float:
        return round(time.perf_counter() - self.start, 3)


def _fail(report: VerificationReport, category: str, message: str, step: int | None = None) -> NoReturn:
    report.failure = Failure(category, message, step).to_dict()
    report.status = "failed"
    raise _Stop


def _run(report: VerificationReport, source: str, rung: Rung, cfg: VerifyConfig, data_o: dict,
         out_dir: Path, data_dir: Path | None, emit: Progress, clock: _Clock) -> None:
    def phase(name: str, message: str = "") -> None:
        emit({"event": "phase", "phase": name, "message": message})

    # ---- data ----------------------------------------------------------------------------------
    phase("data", "checking the data directory")
    data_cfg, problem = data_config(cfg, data_o, data_dir)
    if problem:
        _fail(report, "data_missing", problem)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        device = resolve_device(cfg.device)
    except ValueError as exc:
        _fail(report, "runtime_error", str(exc))
    report.device = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    if rung.device == "cuda" and device.type != "cuda":
        report.warnings.append(f"rung {rung.name} is meant for a GPU; running it on {device} will be slow")
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    try:
        tokenizer = load_tokenizer(data_cfg.tokenizer, data_dir)
        shared = (Path(cfg.shared_cache_dir),) if cfg.shared_cache_dir else ()
        stream = load_token_stream(data_cfg, data_dir, cache_dir, log=lambda m: phase("data", m),
                                   read_only_caches=shared)
    except Exception as exc:  # noqa: BLE001 - any data problem ends the run with its message
        _fail(report, "data_missing", f"{type(exc).__name__}: {exc}")
    vocab_size = len(tokenizer)
    seq_len = rung.context_length
    train_seqs = PackedSequences(stream.train, seq_len)
    clock.lap("data")

    # ---- design and size -----------------------------------------------------------------------
    phase("size", f"fitting the design to {rung.target_params:,} non-embedding parameters")
    try:
        gab_cls, gab_config = load_gab(source, report.design_name)
    except Exception as exc:  # noqa: BLE001
        _fail(report, "design_error", f"{type(exc).__name__}: {exc}")
    try:
        size = fit_to_rung(gab_cls, gab_config, rung, vocab_size)
    except DesignBuildError as exc:
        _fail(report, "design_error", str(exc))
    except SizingError as exc:
        _fail(report, "sizing", str(exc))
    except Exception as exc:  # noqa: BLE001 - the design fails to build at some shape
        _fail(report, "design_error", f"{type(exc).__name__}: {exc}")
    seed_everything(cfg.seed)
    try:
        model = build_model(gab_cls, gab_config, vocab_size, size.d_model, size.n_block, seq_len, device=device)
    except Exception as exc:  # noqa: BLE001
        _fail(report, "design_error", f"{type(exc).__name__}: {exc}")
    report.shape = {"d_model": size.d_model, "n_block": size.n_block, "non_embedding_params": size.params,
                    "total_params": model.num_params(non_embedding=False), "target_params": rung.target_params,
                    "ratio_to_target": round(size.ratio, 4), "size_candidates": size.tried,
                    "gab_config": gab_config}
    clock.lap("size")

    # ---- train ---------------------------------------------------------------------------------
    train_tokens = cfg.train_tokens or rung.train_tokens
    total_steps = max(1, -(-train_tokens // (rung.batch_seqs * seq_len)))
    schedule_steps = rung.schedule_steps if rung.schedule_tokens is not None else None
    settings = TrainSettings(
        total_steps=total_steps, schedule_steps=schedule_steps, batch_seqs=rung.batch_seqs, seq_len=seq_len, lr=rung.lr,
        micro_batch=cfg.micro_batch, max_micro_batch=cfg.max_micro_batch, seed=cfg.seed,
        compile=device.type == "cuda" if cfg.compile is None else cfg.compile, bf16=cfg.bf16,
        chunked_ce=cfg.chunked_ce, checkpoint_every_steps=cfg.checkpoint_every_steps,
        checkpoint_every_s=cfg.checkpoint_every_s, memory_cap_bytes=cfg.memory_cap_bytes,
        stop_after_step=cfg.stop_after_step, show_bar=cfg.show_bar,
    )
    limit = rung.step_time_limit_s if cfg.step_time_limit_s is None else (cfg.step_time_limit_s or None)
    fingerprint = hashlib.sha256(json.dumps({
        "design": report.design_hash, "rung": rung.to_dict(), "data": stream.data_hash, "seed": cfg.seed,
        "shape": [size.d_model, size.n_block], "steps": total_steps, "bf16": cfg.bf16, "ce": cfg.chunked_ce,
    }, sort_keys=True).encode()).hexdigest()
    report.config = {"rung": rung.to_dict(), "train_tokens": train_tokens, "total_steps": total_steps,
                     "verify": _config_dict(cfg), "train": _config_dict(settings), "step_time_limit_s": limit}
    report.data = {"hash": stream.data_hash, "corpus": data_cfg.corpus, "tokenizer": data_cfg.tokenizer,
                   "vocab_size": vocab_size, "train_tokens": int(len(stream.train)),
                   "val_tokens": int(len(stream.val)), "documents": stream.meta.get("documents"),
                   "epochs": round(total_steps * rung.batch_seqs / len(train_seqs), 3)}
    if report.data["epochs"] > 1:
        report.warnings.append(f"the corpus is repeated {report.data['epochs']:.1f} times; use a larger one")
    phase("train", f"{total_steps} steps of {rung.batch_seqs} x {seq_len} tokens on {report.device}")
    trainer = Trainer(model, train_seqs, settings, device, out_dir / CHECKPOINT_NAME, fingerprint,
                      RuntimeMonitor(step_time_limit_s=limit), progress=emit)
    result = trainer.run()
    report.loss_curve = result.loss_curve
    report.final_train_loss = result.final_loss
    report.tokens_per_s = result.tokens_per_s
    report.mfu = result.mfu
    report.flops_per_token = result.flops_per_token
    report.peak_memory_bytes, report.peak_memory_kind = result.peak_memory_bytes, result.peak_memory_kind
    report.config["train"].update(micro_batch=result.micro_batch, grad_accum=result.grad_accum,
                                  oom_micro_batches=result.oom_micro_batches, compiled=result.compiled,
                                  resumed_from_step=result.resumed_from_step)
    report.warnings.extend(result.warnings)
    del trainer  # the optimizer's moments: not needed for evaluation
    if device.type == "cuda":
        torch.cuda.empty_cache()
    clock.lap("train")
    if result.failure is not None:
        report.failure = result.failure.to_dict()
        report.status = "interrupted" if result.failure.category == "interrupted" else "failed"
        raise _Stop
    if result.interrupted:
        report.status = "interrupted"
        raise _Stop

    # ---- validate and save ---------------------------------------------------------------------
    phase("validate", "held-out loss")
    val = PackedSequences(stream.val, seq_len)
    held_out = validate(model, val, device, tokenizer=tokenizer, max_sequences=max(1, rung.val_tokens // seq_len),
                        bf16=cfg.bf16)
    report.val_loss = held_out.loss
    report.val_bpb, report.val_bytes_per_token = held_out.bpb, held_out.bytes_per_token
    report.val_perplexity = math.exp(report.val_loss) if report.val_loss < 50 else math.inf
    if cfg.save_weights and rung.kind != "screen":
        save_weights(out_dir / WEIGHTS_NAME, model, {"design_hash": report.design_hash, "rung": rung.name,
                                                    "d_model": str(size.d_model), "n_block": str(size.n_block)})
        report.weights = WEIGHTS_NAME
    clock.lap("validate")

    # ---- evaluate ------------------------------------------------------------------------------
    if not cfg.skip_eval:
        tasks = tuple(cfg.tasks or rung.tasks)
        eval_limit, limits = eval_limits_for(rung, cfg)
        phase("eval", f"lm-eval on {', '.join(tasks)} (limit {eval_limit}"
              + "".join(f"; {t}: {n}" for t, n in limits.items() if t in tasks) + ")")
        try:
            from .evaluation import evaluate

            report.eval = evaluate(model, tokenizer, tasks, data_dir, cache_dir, limit=eval_limit, limits=limits,
                                   batch_size=cfg.eval_batch_size or (64 if device.type == "cuda" else 16),
                                   device=device, max_length=cfg.eval_max_length, progress=emit)
        except ModuleNotFoundError as exc:  # no evaluation, no fitness: the run is not verified
            clock.lap("eval")
            _fail(report, "eval_unavailable", f"evaluation cannot run: {exc.name} is not installed")
        except Exception as exc:  # noqa: BLE001
            clock.lap("eval")
            _fail(report, "eval_error", f"{type(exc).__name__}: {exc}")
        report.task_scores = task_scores(report.eval)
        fitness = rung_fitness(report.eval)
        report.fitness = fitness if math.isfinite(fitness) else None
        clock.lap("eval")
    if rung.kind == "screen":
        n_val = min(len(val), max(1, rung.val_tokens // seq_len))
        _screen(report, gab_cls, gab_config, rung, cfg, tokenizer, stream.val[: n_val * seq_len], emit)
        clock.lap("probes")
    report.status = "done"
    if not cfg.keep_checkpoint:
        (out_dir / CHECKPOINT_NAME).unlink(missing_ok=True)


def data_config(cfg: VerifyConfig, data_o: dict[str, Any], data_dir: Path | None) -> tuple[DataConfig, str]:
    """The corpus and tokenizer of a run, and why the data directory cannot serve them ("" if it can)."""
    manifest = read_manifest(data_dir)
    data_cfg = cfg.data or DataConfig(corpus=manifest["corpus"], tokenizer=manifest["tokenizer"])
    data_cfg = dataclasses.replace(data_cfg, **data_o)
    uses_data_dir = not (Path(data_cfg.corpus).is_absolute() and Path(data_cfg.tokenizer).is_absolute())
    if uses_data_dir:
        ok, message = data_status(data_dir)
        if not ok:
            return data_cfg, message
    return data_cfg, ""


def prepare_token_cache(data_dir: Path | None, **overrides: Any) -> str:
    """Tokenise a run's corpus into its cache (no design involved); returns "" or the problem.

    The sandboxed `verify` runs this first with the shared cache writable, then the design with
    that cache read-only, so design code can read tokenised data but never change it."""
    _, cfg_o, data_o = _split_overrides(overrides)
    cfg = VerifyConfig(**cfg_o)
    data_cfg, problem = data_config(cfg, data_o, data_dir)
    if problem:
        return problem
    try:
        load_token_stream(data_cfg, data_dir, Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir(),
                          log=lambda message: None)
    except Exception as exc:  # noqa: BLE001 - the design run reports the same problem in its report
        return f"{type(exc).__name__}: {exc}"
    return ""


def _screen(report: VerificationReport, gab_cls: type, gab_config: dict, rung: Rung, cfg: VerifyConfig,
            tokenizer: Any, val_tokens: np.ndarray, emit: Progress) -> None:
    """The screen rung's probes and score (verifier.core.screen); a failed probe fails the run."""
    from ..probes import ProbeFailure
    from ..screen.phase import screen_phase

    emit({"event": "phase", "phase": "probes", "message": "synthetic capability probes"})
    try:
        screen_phase(report, gab_cls, gab_config, rung, cfg.seed, tokenizer, val_tokens, emit,
                     probe_overrides=cfg.probe_config, probe_names=cfg.probes)
    except ProbeFailure as exc:
        _fail(report, exc.category, f"probe {exc.probe}: {exc}", exc.step)
    except KeyError as exc:  # an unknown probe name
        _fail(report, "runtime_error", str(exc))


def eval_limits_for(rung: Rung, cfg: VerifyConfig) -> tuple[int | None, dict[str, int | None]]:
    """(examples per task, per-task exceptions) for a run: the rung's exceptions hold unless the run
    asked for one limit for every task; the run's own exceptions come on top."""
    if cfg.eval_limit == -1:
        limit, limits = rung.eval_limit, dict(rung.eval_limits)
    else:
        limit, limits = cfg.eval_limit, {}
    limits.update(cfg.eval_limits or {})
    return limit, limits


def _config_dict(obj: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        is_instance = dataclasses.is_dataclass(value) and not isinstance(value, type)
        out[f.name] = dataclasses.asdict(value) if is_instance else value  # type: ignore[arg-type]
    return out
