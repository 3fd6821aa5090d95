"""`export_run`: a verification's output folder -> a Hugging Face model folder.

    config.json             GenesysConfig, with auto_map for AutoConfig / AutoModelForCausalLM
    modeling_genesys.py     the composed design + the LM wrapper (modeling.py), self-contained
    model.safetensors       the trained weights (weights.py)
    tokenizer files         copied from the data directory
    generation_config.json  greedy, no cache (the prefix is recomputed)
    README.md               the model card (model_card.py)

Only files are written; the design's code is composed as text and never run here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ..gau.composer import compose
from ..gau.tree import GAUTree
from ..model.lm import LMConfig
from .model_card import CardInputs, render_card
from .modeling import CONFIG_CLASS, MODEL_CLASS, MODELING_FILE, ModelingError, modeling_source
from .run_folder import RunFolder, RunFolderError, read_run_folder
from .tokenizer_files import copy_tokenizer, special_token_ids, tokenizer_folder
from .weights import HF_WEIGHTS_NAME, export_weights

EXPORT_FORMAT = "genesys.hf-export/1"
MODULE = MODELING_FILE.removesuffix(".py")


class ExportError(ValueError):
    """The run cannot be exported; the message says why."""


def eval_max_length(report_config: dict[str, Any]) -> int:
    """The max_length the verifier's lm-eval run used (evaluation.evaluate's default)."""
    given = (report_config.get("verify") or {}).get("eval_max_length")
    return int(given) if given else max(int(report_config["rung"]["context_length"]), 256)


def hf_config(run: RunFolder, special: dict[str, int]) -> dict[str, Any]:
    report, shape = run.report, run.report.shape
    defaults = LMConfig()
    return {
        "architectures": [MODEL_CLASS],
        "auto_map": {"AutoConfig": f"{MODULE}.{CONFIG_CLASS}", "AutoModelForCausalLM": f"{MODULE}.{MODEL_CLASS}"},
        "model_type": "genesys",
        "vocab_size": int(report.data["vocab_size"]),
        "d_model": int(shape["d_model"]),
        "n_block": int(shape["n_block"]),
        "context_length": int(report.config["rung"]["context_length"]),
        "max_position_embeddings": eval_max_length(report.config),
        "norm_eps": defaults.norm_eps,
        "pad_vocab_multiple": defaults.pad_vocab_multiple,
        "gab_config": dict(shape.get("gab_config") or {}),
        "tie_word_embeddings": True,
        "dtype": "float32",
        "design_name": report.design_name,
        "design_hash": report.design_hash,
        "genesys": {"format": EXPORT_FORMAT, "rung": report.rung, "seed": report.seed, "data_hash": report.data.get("hash"),
                    "fitness": report.fitness, "val_loss": report.val_loss, "val_bpb": report.val_bpb},
        "transformers_version": report.versions.get("transformers", ""),
        **special,
    }


def generation_config(special: dict[str, int]) -> dict[str, Any]:
    """Greedy; no cache (the wrapper recomputes the prefix); padding with EOS when there is no pad."""
    ids = {k: v for k, v in special.items() if k in ("bos_token_id", "eos_token_id", "pad_token_id")}
    if "pad_token_id" not in ids and "eos_token_id" in ids:
        ids["pad_token_id"] = ids["eos_token_id"]
    return {"do_sample": False, "use_cache": False, "max_new_tokens": 32, **ids}


def export_run(run_dir: Path, out: Path, design: GAUTree | str | Path | None = None,
               lineage: dict[str, Any] | None = None, data_dir: Path | None = None,
               license: str = "apache-2.0", repo_id: str | None = None, overwrite: bool = False) -> Path:
    """Write the Hugging Face folder of the verification in `run_dir` to `out`; returns `out`."""
    try:
        run = read_run_folder(Path(run_dir), design)
    except (RunFolderError, OSError, ValueError) as exc:
        raise ExportError(str(exc)) from exc
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ExportError(f"{out} exists and is not empty (pass overwrite=True / --overwrite)")
        shutil.rmtree(out)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _write(run, tmp, lineage or {}, data_dir, license, repo_id)
    except (ModelingError, FileNotFoundError, KeyError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(f"{type(exc).__name__}: {exc}") from exc
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out


def _write(run: RunFolder, out: Path, lineage: dict[str, Any], data_dir: Path | None, license: str,
           repo_id: str | None) -> None:
    report = run.report
    (out / MODELING_FILE).write_text(modeling_source(compose(run.tree), report.design_name))
    assert run.weights is not None  # read_run_folder checked
    export_weights(run.weights, out / HF_WEIGHTS_NAME, {"design_hash": report.design_hash, "rung": report.rung})
    tok = tokenizer_folder(report.data["tokenizer"], data_dir)
    copy_tokenizer(tok, out)
    special = special_token_ids(tok)
    _write_json(out / "config.json", hf_config(run, special))
    _write_json(out / "generation_config.json", generation_config(special))
    (out / "README.md").write_text(render_card(CardInputs(report=report, tree=run.tree, lineage=lineage,
                                                          license=license, repo_id=repo_id,
                                                          eval_max_length=eval_max_length(report.config))))
    (out / "design.json").write_text(run.tree.to_json())


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
