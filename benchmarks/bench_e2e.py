"""A rung's wall time end to end, as `verify` runs it (issue #4 asks for the 14M rung's), with
progress written as it happens so that a run cut short by the device's time limit still tells how far
it got. Run through `bench_gpu_throughput.py --e2e-14m` / `--e2e-only`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from bench_io import say, write_json

from verifier.core.seeds import load_seed
from verifier.core.train.signals import sigterm_as_interrupt


def run_e2e(
    data_dir: Path | None,
    device: torch.device,
    rung: str = "14M",
    out: Path | None = None,
    progress_path: Path | None = None,
    json_path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    every_s: float = 20.0,
) -> int:
    """A rung's wall time end to end, as `verify` runs it: tokenise (cached after the first run), size,
    train (700M tokens at 14M), validate, evaluate. Progress events (with `t`, seconds since the start)
    go to `progress_path` as they happen, so a run cut short still shows how far it got. SIGTERM ends
    the run like Ctrl-C (training checkpoints; the report says `interrupted`)."""
    from verifier.core.train import verify_design
    from verifier.core.train.checkpoint import CHECKPOINT_NAME, WEIGHTS_NAME

    out = Path(out or f"var/bench-e2e-{rung}")
    for stale in ("report.json", CHECKPOINT_NAME, WEIGHTS_NAME):  # a fresh run, never a resumed one
        (out / stale).unlink(missing_ok=True)
    sink = open(progress_path, "a", buffering=1) if progress_path else None  # noqa: SIM115
    start = time.perf_counter()
    state: dict[str, Any] = {"phases": {}, "last_step": None, "last_print": 0.0, "tokenised": False}

    def progress(event: dict[str, Any]) -> None:
        t = time.perf_counter() - start
        if sink is not None:
            sink.write(json.dumps({"t": round(t, 3), **event}, default=str) + "\n")
        if event.get("event") == "phase":
            state["phases"].setdefault(event["phase"], t)
            state["tokenised"] |= str(event.get("message", "")).startswith("tokenising")
            say(f"[e2e {t:6.0f}s] {event['phase']}: {event.get('message', '')}")
        elif event.get("event") == "step":
            if state["last_step"] is None:  # the loop began `elapsed_s` ago; before it: FLOPs, probe, compile
                state["loop_start"] = t - float(event["elapsed_s"])
            state["last_step"] = {**event, "t": t}
            if t - state["last_print"] >= every_s or event["step"] == event["total_steps"]:
                state["last_print"] = t
                say(
                    f"[e2e {t:6.0f}s] step {event['step']}/{event['total_steps']} loss {event['loss']:.3f} "
                    f"{event['tokens_per_s']:,.0f} tok/s eta {event['eta_s']:.0f}s"
                )

    report = None
    try:
        with sigterm_as_interrupt():
            report = verify_design(
                load_seed("gpt"),
                rung,
                out,
                data_dir,
                progress=progress,
                device=str(device),
                show_bar=False,
                **(overrides or {}),
            )
    except KeyboardInterrupt:
        say("[e2e] interrupted outside training (no report)")
    finally:
        if sink is not None:
            sink.close()
    total = time.perf_counter() - start
    summary = e2e_summary(rung, report, state, total, out)
    write_json(json_path, summary)
    print_e2e(summary)
    return {"done": 0, "interrupted": 3}.get(summary["status"], 1)


def e2e_summary(rung: str, report: Any, state: dict, total: float, out: Path) -> dict:
    phases = state["phases"]
    order = [p for p in ("data", "size", "train", "validate", "eval") if p in phases]
    from_events = {
        p: (phases[order[i + 1]] if i + 1 < len(order) else total) - phases[p] for i, p in enumerate(order)
    }
    last = state["last_step"]
    doc: dict[str, Any] = {
        "rung": rung,
        "status": report.status if report else "interrupted",
        "wall_s": total,
        "phases_s": dict(report.wall_time_s) if report else from_events,
        "phases_from_events_s": from_events,
        "tokenised": state["tokenised"],
        "report": str(out / "report.json") if report else None,
    }
    if doc["status"] == "interrupted" and order:
        doc["cut_in_phase"] = order[-1]  # its time in phases_s is only how long it ran before the cut
    if last:
        doc["train"] = {
            "steps_done": last["step"],
            "total_steps": last["total_steps"],
            "tokens_per_s_recent": last["tokens_per_s"],
            "mfu_recent": last["mfu"],
            "train_elapsed_s": last["elapsed_s"],
            "train_projected_s": last["elapsed_s"] + last["eta_s"],
            # FLOP count + micro-batch probe (where torch.compile compiles) before the first step
            "pre_loop_s": state["loop_start"] - phases["train"] if "train" in phases else None,
        }
    if report is not None:
        doc.update(
            tokens_per_s=report.tokens_per_s,
            mfu=report.mfu,
            fitness=report.fitness,
            val_loss=report.val_loss,
            failure=report.failure,
            warnings=report.warnings,
            shape=report.shape
            and {k: report.shape.get(k) for k in ("d_model", "n_block", "non_embedding_params")},
            micro_batch=(report.config.get("train") or {}).get("micro_batch"),
            eval={
                t: {k: v for k, v in row.items() if k in ("acc", "acc_norm", "perplexity", "samples")}
                for t, row in (report.eval or {}).items()
            },
            versions=report.versions,
            device=report.device,
        )
    return doc


def print_e2e(doc: dict) -> None:
    phases = ", ".join(f"{k} {v:.0f}s" for k, v in (doc.get("phases_s") or {}).items())
    cut = f"; cut during {doc['cut_in_phase']}" if doc.get("cut_in_phase") else ""
    say(f"\n{doc['rung']} end to end: {doc['status']} in {doc['wall_s'] / 60:.1f} min ({phases}{cut})")
    if doc.get("train"):
        t = doc["train"]
        say(
            f"  train: {t['steps_done']}/{t['total_steps']} steps, {t['tokens_per_s_recent']:,.0f} tok/s recent, "
            f"train phase projected {t['train_projected_s']:.0f}s, of it before the first step "
            f"(FLOP count, probe, compile) {t.get('pre_loop_s') or 0:.0f}s"
        )
    if doc.get("tokens_per_s"):
        mfu = f"{100 * doc['mfu']:.1f}%" if doc.get("mfu") is not None else "-"
        say(
            f"  {doc['tokens_per_s']:,.0f} tok/s, MFU {mfu}, val loss {doc.get('val_loss')}, "
            f"fitness {doc.get('fitness')}, micro-batch {doc.get('micro_batch')}, tokenised here: {doc['tokenised']}"
        )
    for task, row in (doc.get("eval") or {}).items():
        say(f"  {task}: {row}")
    if doc.get("failure"):
        say(f"  failure: {doc['failure']}")
    for warning in doc.get("warnings") or []:
        say(f"  warning: {warning}")
