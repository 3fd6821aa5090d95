"""Export to a Hugging Face folder: every seed, a mutation, a crossover and a design that passes
Z-state between blocks are trained briefly at the `test` rung, exported, loaded in a fresh process
that cannot import Genesys, compared logit by logit with the verifier's own model, and generated
from; lm-eval's own `hf` model scores an export like the verifier's evaluation did."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from verifier.core.export import ExportError, export_run
from verifier.core.export.hf_folder import eval_max_length
from verifier.core.export.model_card import CardInputs, render_card
from verifier.core.export.modeling import ModelingError, modeling_source
from verifier.core.gau import compose, load_gab
from verifier.core.gau.operators import crossover, random_mutation
from verifier.core.gau.tree import GAUNode, GAUTree
from verifier.core.importer import import_gab_source
from verifier.core.seeds import SEED_NAMES, load_seed
from verifier.core.train import VerificationReport, verify_design
from verifier.core.train.autotune import build_model
from verifier.core.train.checkpoint import load_weights
from verifier.core.train.data import load_tokenizer
from verifier.core.train.evaluation import evaluate, rewrite_task_paths

REPO = Path(__file__).resolve().parent.parent
SMALL = {"corpus": "corpora/tinyshakespeare", "show_bar": False, "skip_eval": True,
         "train_tokens": 512, "val_tokens": 256, "size_tolerance": 1.0}
FIXED_INPUT = [[1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203], [1] + list(range(300, 311))]

CARRY_UNIT = '''
import torch
from torch import nn

from verifier.core.gau.base import GAUBase


class CarryBlock(GAUBase):
    """A causal running mean whose input is mixed with Z['carry'], the previous block's features."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, carry_hidden=256, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, carry_hidden, bias=False, **self.factory_kwargs)
        self.out_proj = nn.Linear(carry_hidden, embed_dim, bias=False, **self.factory_kwargs)
        self.mix = nn.Linear(carry_hidden, carry_hidden, bias=False, **self.factory_kwargs)

    def _forward(self, X, carry=None, **Z):
        h = torch.tanh(self.proj(X))
        if carry is not None:
            h = h + self.mix(carry)
        steps = torch.arange(1, X.shape[1] + 1, device=X.device, dtype=h.dtype).view(1, -1, 1)
        return X + self.out_proj(torch.cumsum(h, dim=1) / steps), {"carry": h}
'''

IMPORTED_GAB = '''
import torch
import torch.nn as nn
from torchtune.modules import RMSNorm

from model_discovery.model.utils.modules import GABBase, GAUBase, gau_test, UnitDecl


class NormMLP(GAUBase):
    """A causal running mean of a pre-normed MLP, normalised by torchtune's RMSNorm."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, hidden=256, **kwargs):
        self.factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.norm = RMSNorm(embed_dim)
        self.up = nn.Linear(embed_dim, hidden, **self.factory_kwargs)
        self.down = nn.Linear(hidden, embed_dim, **self.factory_kwargs)

    def _forward(self, X, **Z):
        steps = torch.arange(1, X.shape[1] + 1, device=X.device, dtype=X.dtype).view(1, -1, 1)
        return X + self.down(torch.relu(torch.cumsum(self.up(self.norm(X)), dim=1) / steps))


class GAB(GABBase):
    def __init__(self, embed_dim, block_loc, device=None, dtype=None, **kwargs):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__(embed_dim, block_loc)
        self.root = NormMLP(embed_dim=embed_dim, block_loc=block_loc, kwarg_all=kwargs, **factory_kwargs, **kwargs)

    def _forward(self, X, **Z):
        X, Z = self.root(X, **Z)
        return X, Z


gab_config = {}
'''

CHILD = r'''
import importlib.abc, json, sys
class NoGenesys(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("verifier", "designer", "evolution", "knowledge", "genesys_site"):
            raise ImportError(f"the export must not need {name}")
sys.meta_path.insert(0, NoGenesys())
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
torch.set_num_threads(1)
folders, ids, out = sys.argv[1].split(","), torch.tensor(json.loads(sys.argv[2])), sys.argv[3]
result = {}
for folder in folders:
    model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True).eval()
    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    with torch.no_grad():
        logits = model(ids).logits
    prompt = tok("The king said", return_tensors="pt").input_ids
    generated = model.generate(prompt, max_new_tokens=4, min_new_tokens=4)
    with torch.no_grad():
        first = int(model(prompt).logits[0, -1].argmax())
    torch.save(logits, f"{folder}.logits.pt")
    result[folder] = {"dtype": str(model.dtype), "generated": generated[0].tolist(), "prompt": prompt[0].tolist(),
                      "greedy_first": first, "text": tok.decode(generated[0]), "class": type(model).__name__}
json.dump(result, open(out, "w"))
'''


def carry_design() -> GAUTree:
    node = GAUNode(name="CarryBlock", code=CARRY_UNIT, spec="running mean with Z-state between blocks",
                   args={"carry_hidden": 256})
    return GAUTree(name="carry", root="CarryBlock", units={"CarryBlock": node})


def designs() -> dict[str, GAUTree]:
    out = {name: load_seed(name) for name in SEED_NAMES}
    rng = random.Random(0)
    out["mutation"] = random_mutation(load_seed("gpt"), [load_seed("retnet"), load_seed("ttt")], rng, name="gpt-mut")
    out["crossover"] = crossover(load_seed("retnet"), load_seed("gpt"), rng, name="retnet-x-gpt")
    out["z_state"] = carry_design()
    out["imported"] = import_gab_source(IMPORTED_GAB, name="imported")
    return out


def reference_logits(run_dir: Path, tree: GAUTree) -> torch.Tensor:
    """The verifier's own model, rebuilt from the run's report and weights."""
    report = VerificationReport.read(run_dir)
    gab_cls, gab_config = load_gab(compose(tree), tree.name)
    model = build_model(gab_cls, gab_config, report.data["vocab_size"], report.shape["d_model"],
                        report.shape["n_block"], report.config["rung"]["context_length"], device=torch.device("cpu"))
    load_weights(run_dir / "model.safetensors", model)
    with torch.no_grad():
        return model.eval()(torch.tensor(FIXED_INPUT)).logits


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1", TRANSFORMERS_VERBOSITY="error")
    return env


@pytest.fixture(scope="module")
def exported(tmp_path_factory, genesys_data_dir):
    """{label: (run_dir, export_dir, tree)} for every design, trained for one step."""
    root = tmp_path_factory.mktemp("export")
    cache = str(tmp_path_factory.getbasetemp() / "genesys-cache")
    out = {}
    for label, tree in designs().items():
        run_dir = root / f"run-{label}"
        report = verify_design(tree, "test", run_dir, genesys_data_dir, cache_dir=cache, **SMALL)
        assert report.status == "done", f"{label}: {report.error}"
        (run_dir / "design.json").write_text(tree.to_json())
        folder = export_run(run_dir, root / f"hf-{label}", data_dir=genesys_data_dir,
                            lineage={"parents": ["gpt"], "operator": "mutation"} if label == "mutation" else None)
        out[label] = (run_dir, folder, tree)
    return out


@pytest.mark.slow
def test_every_design_exports_loads_fresh_matches_logits_and_generates(exported, tmp_path):
    labels = sorted(exported)
    assert {"gpt", "mamba2", "retnet", "rwkv6", "ttt", "mutation", "crossover", "z_state", "imported"} <= set(labels)
    folders = [str(exported[label][1]) for label in labels]
    result_path = tmp_path / "child.json"
    proc = subprocess.run([sys.executable, "-c", CHILD, ",".join(folders), json.dumps(FIXED_INPUT), str(result_path)],
                          cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(result_path.read_text())
    for label in labels:
        run_dir, folder, tree = exported[label]
        row = results[str(folder)]
        assert row["class"] == "GenesysForCausalLM" and row["dtype"] == "torch.float32"
        theirs = torch.load(f"{folder}.logits.pt")
        ours = reference_logits(run_dir, tree)
        assert theirs.shape == ours.shape == (2, len(FIXED_INPUT[0]), 32000)
        assert (theirs - ours).abs().max().item() <= 1e-5, label
        prompt, generated = row["prompt"], row["generated"]
        assert generated[: len(prompt)] == prompt and len(generated) == len(prompt) + 4, label
        assert generated[len(prompt)] == row["greedy_first"], f"{label}: generate is not greedy on the full prefix"


def test_export_folder_has_the_hugging_face_files_and_a_card(exported):
    run_dir, folder, tree = exported["mutation"]
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "modeling_genesys.py", "model.safetensors", "tokenizer.model", "tokenizer_config.json",
            "generation_config.json", "README.md"} <= names
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "modeling_genesys.GenesysConfig",
                                  "AutoModelForCausalLM": "modeling_genesys.GenesysForCausalLM"}
    assert config["design_hash"] == tree.content_hash() and config["bos_token_id"] == 1 and config["eos_token_id"] == 2
    source = (folder / "modeling_genesys.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports and not [line for line in imports if "verifier" in line or "genesys" in line.lower()]
    card = (folder / "README.md").read_text()
    front = card.split("---")[1]
    assert "license: apache-2.0" in front and "library_name: transformers" in front
    for needle in ("# gpt-mut", "**parents**: gpt", "**operator**: mutation", "## GAU tree", "rung: `test`",
                   "training tokens: 512", "validation loss", "bits per byte: ",
                   "No lm-eval evaluation", "Fitness (Eq. 1", "torch:", "## Licence"):
        assert needle in card, needle


def test_torchtune_imports_are_replaced_by_inlined_stand_ins(exported):
    source = (exported["imported"][1] / "modeling_genesys.py").read_text()
    assert "torchtune" not in "".join(line for line in source.splitlines(keepends=True)
                                      if line.startswith(("import ", "from ")))
    assert "class RMSNorm(nn.Module)" in source
    compile(source, "modeling_genesys.py", "exec")  # parsed, not run


def test_export_only_writes_files(exported, tmp_path, genesys_data_dir):
    """The web and worker processes call export: it must not import (run) the design's code."""
    run_dir, _, _ = exported["gpt"]
    before = {m for m in sys.modules if m.startswith("genesys_composed_")}
    export_run(run_dir, tmp_path / "again", data_dir=genesys_data_dir)
    assert {m for m in sys.modules if m.startswith("genesys_composed_")} == before


def test_bad_runs_are_refused_with_a_reason(exported, tmp_path, genesys_data_dir):
    run_dir, folder, _ = exported["gpt"]
    with pytest.raises(ExportError, match="no report.json"):
        export_run(tmp_path, tmp_path / "out", data_dir=genesys_data_dir)
    with pytest.raises(ExportError, match="not empty"):
        export_run(run_dir, folder, data_dir=genesys_data_dir)
    with pytest.raises(ExportError, match="is not the design this run verified"):
        export_run(run_dir, tmp_path / "out", design="mamba2", data_dir=genesys_data_dir)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "report.json").write_text((run_dir / "report.json").read_text())
    with pytest.raises(ExportError, match="saved no weights"):
        export_run(bare, tmp_path / "out", data_dir=genesys_data_dir)
    report = json.loads((run_dir / "report.json").read_text())
    report.update(status="failed", failure={"category": "nan_loss", "message": "loss is NaN"})
    (bare / "report.json").write_text(json.dumps(report))
    with pytest.raises(ExportError, match="did not finish"):
        export_run(bare, tmp_path / "out", data_dir=genesys_data_dir)
    assert not (tmp_path / "out").exists()


def test_modeling_file_refuses_a_design_that_clashes_with_the_wrapper():
    source = compose(load_seed("gpt"))
    with pytest.raises(ModelingError, match="GenesysConfig"):
        modeling_source(source + "\n\nclass GenesysConfig:\n    pass\n", "x")
    with pytest.raises(ModelingError, match="no class GAB"):
        modeling_source("import torch\n", "x")
    # a unit named RMSNorm (the GPT seed has one) keeps its name: the LM's norm is renamed
    assert "class RMSNorm(GAUBase)" in modeling_source(source, "gpt")


def test_model_card_shows_the_evaluation_with_stderr_and_bpb():
    report = VerificationReport(design_name="d", design_hash="h", rung="tiny", status="done", val_loss=3.2,
                                val_bpb=1.234, fitness=0.05,
                                eval={"piqa_local": {"acc": 0.6, "acc_stderr": 0.05, "acc_norm": 0.55,
                                                     "acc_norm_stderr": 0.049, "samples": 100, "limit": 100}},
                                task_scores={"piqa_local": 0.05},
                                config={"rung": {"context_length": 512, "lr": 1e-3}, "train_tokens": 10})
    card = render_card(CardInputs(report=report, tree=load_seed("gpt"), license="mit"))
    assert "license: mit" in card and "model-index:" in card and "value: 0.55" in card
    assert "| piqa_local | acc_norm | 0.5500 | 0.0490 | 0.5000 | 0.0500 | 100 | 100 |" in card
    assert "bits per byte: 1.2340" in card and "fitness at this rung: 0.0500" in card


@pytest.mark.slow
def test_lm_eval_hf_model_scores_an_export_like_the_verifier(exported, tmp_path, genesys_data_dir):
    run_dir, folder, tree = exported["gpt"]
    report = VerificationReport.read(run_dir)
    cache = tmp_path / "cache"
    gab_cls, gab_config = load_gab(compose(tree), tree.name)
    model = build_model(gab_cls, gab_config, 32000, report.shape["d_model"], report.shape["n_block"],
                        report.config["rung"]["context_length"], device=torch.device("cpu"))
    load_weights(run_dir / "model.safetensors", model)
    ours = evaluate(model.eval(), load_tokenizer(report.data["tokenizer"], genesys_data_dir), ["piqa_local"],
                    genesys_data_dir, cache, limit=6, batch_size=16, device=torch.device("cpu"),
                    max_length=eval_max_length(report.config))["piqa_local"]
    include = rewrite_task_paths(genesys_data_dir / "lm_eval_tasks", genesys_data_dir, cache)
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("lm_eval")), "--model", "hf", "--model_args",
         f"pretrained={folder},trust_remote_code=True", "--tasks", "piqa_local", "--limit", "6",
         "--include_path", str(include), "--num_fewshot", "0", "--batch_size", "16", "--device", "cpu",
         "--output_path", str(tmp_path / "lm_eval")],
        cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(next((tmp_path / "lm_eval").rglob("results_*.json")).read_text())["results"]["piqa_local"]
    assert ours["samples"] == 6
    for metric in ("acc", "acc_norm"):
        assert results[f"{metric},none"] == pytest.approx(ours[metric], abs=1e-12)
        assert results[f"{metric}_stderr,none"] == pytest.approx(ours[f"{metric}_stderr"], abs=1e-12)
