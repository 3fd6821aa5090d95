"""The model card (README.md with YAML metadata) of an exported model.

Everything on it is read from the verification report, the design and its lineage; what the report
lacks (bits per byte on old reports, an evaluation skipped) is said, not invented.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..gau.composer import tree_outline
from ..gau.tree import GAUTree
from ..train.fitness import task_accuracy
from ..train.ladder import baseline_for
from ..train.report import VerificationReport

FITNESS_NOTE = (
    "Fitness (Eq. 1 of the Genesys paper, `verifier/core/train/fitness.py`): per task, accuracy minus the "
    "random-choice baseline (`acc_norm` where the task reports it, else `acc`); the rung's fitness is the mean "
    "over its tasks. A design's overall fitness is the mean over the rungs it was verified at."
)


@dataclass
class CardInputs:
    report: VerificationReport
    tree: GAUTree
    lineage: dict[str, Any] = field(default_factory=dict)  # {"parents": [...], "operator": ..., "ancestors": [...]}
    license: str = "apache-2.0"
    repo_id: str | None = None  # the Hub name, when known
    eval_max_length: int = 256


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _yaml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML scalar


def front_matter(inp: CardInputs) -> str:
    r = inp.report
    lines = ["---", "library_name: transformers", f"license: {inp.license}", "pipeline_tag: text-generation",
             "tags:", "- genesys", "- gau", "- custom_code", f"- {_yaml_str('rung-' + r.rung)}"]
    rows = [(task, row) for task, row in r.eval.items() if task_accuracy(row) is not None]
    if rows:
        lines += ["model-index:", f"- name: {_yaml_str(r.design_name)}", "  results:"]
        for task, row in rows:
            metric = "acc_norm" if row.get("acc_norm") is not None else "acc"
            lines += ["  - task:", "      type: text-generation", "    dataset:",
                      f"      name: {_yaml_str(task)}", f"      type: {_yaml_str(task)}", "    metrics:",
                      f"    - type: {metric}", f"      value: {row[metric]}",
                      "      name: " + _yaml_str(f"{metric} (zero-shot, n={row.get('samples')})")]
    lines.append("---")
    return "\n".join(lines) + "\n"


def lineage_section(inp: CardInputs) -> list[str]:
    meta = inp.tree.metadata or {}
    lineage: dict[str, Any] = {k: meta[k] for k in ("operator", "parents", "target", "donor") if k in meta}
    lineage.update(inp.lineage)
    if not lineage:
        return ["No lineage was recorded for this design (a seed, or a design given as a file)."]
    out = []
    for key, value in lineage.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        out.append(f"- **{key}**: {shown}")
    return out


def eval_table(report: VerificationReport) -> list[str]:
    if not report.eval:
        return ["No lm-eval evaluation was run for this verification."]
    out = ["| task | metric | value | stderr | chance | above chance | examples | limit |",
           "|---|---|---|---|---|---|---|---|"]
    for task, row in report.eval.items():
        baseline = baseline_for(task, None)
        for metric in ("acc", "acc_norm", "perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte"):
            if row.get(metric) is None:
                continue
            is_fitness_metric = metric in ("acc", "acc_norm") and row.get(metric) == task_accuracy(row)
            above = report.task_scores.get(task) if is_fitness_metric else None
            out.append(f"| {task} | {metric} | {_fmt(row[metric])} | {_fmt(row.get(metric + '_stderr'))} | "
                       f"{_fmt(baseline) if metric in ('acc', 'acc_norm') else ''} | {_fmt(above)} | "
                       f"{_fmt(row.get('samples'))} | {_fmt(row.get('limit')) if row.get('limit') else 'all'} |")
    return out


def render_card(inp: CardInputs) -> str:
    r, tree = inp.report, inp.tree
    shape, data, cfg = r.shape or {}, r.data or {}, r.config or {}
    train = cfg.get("train", {})
    name = inp.repo_id or "PATH_TO_THIS_FOLDER"
    tasks = ",".join(r.eval) or "TASK"
    parts = [
        front_matter(inp),
        f"# {r.design_name}\n",
        f"A language-model block discovered with Genesys Studio (a re-build of Genesys, arXiv 2506.20249), "
        f"verified at the `{r.rung}` rung. Design hash `{r.design_hash}`.\n",
        "## Lineage\n", "\n".join(lineage_section(inp)) + "\n",
        "## GAU tree\n", f"```\n{tree_outline(tree)}\n```\n",
        "\n".join(f"- `{n}`: {(tree.units[n].spec or '').strip().splitlines()[0] if tree.units[n].spec else ''}"
                  for n in tree.implemented()) + "\n",
        "## Training\n",
        "\n".join([
            f"- rung: `{r.rung}`; shape: d_model={shape.get('d_model')}, n_block={shape.get('n_block')}; "
            f"non-embedding parameters: {_fmt(shape.get('non_embedding_params'))}; "
            f"total: {_fmt(shape.get('total_params'))}",
            f"- data: corpus `{data.get('corpus')}`, tokenizer `{data.get('tokenizer')}` "
            f"(vocabulary {_fmt(data.get('vocab_size'))}); data hash `{data.get('hash')}`",
            f"- training tokens: {_fmt(cfg.get('train_tokens'))} in {_fmt(cfg.get('total_steps'))} steps "
            f"(context {cfg.get('rung', {}).get('context_length')}, learning rate {cfg.get('rung', {}).get('lr')}, "
            f"{_fmt(data.get('epochs'))} epochs of the corpus)",
            f"- seed: {r.seed}; device: {r.device}; bf16 autocast setting: {train.get('bf16')}",
        ]) + "\n",
        "## Results\n",
        "\n".join([
            f"- validation loss: {_fmt(r.val_loss)} nats/token (perplexity {_fmt(r.val_perplexity, 2)})",
            f"- bits per byte: {_fmt(r.val_bpb)}" + ("" if r.val_bpb is not None else " (not in this report)"),
            f"- final training loss: {_fmt(r.final_train_loss)}",
            f"- fitness at this rung: {_fmt(r.fitness)}",
        ]) + "\n",
        "\n".join(eval_table(r)) + "\n", FITNESS_NOTE + "\n",
        "## Use\n",
        "```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        f'model = AutoModelForCausalLM.from_pretrained("{name}", trust_remote_code=True)\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{name}", trust_remote_code=True)\n'
        'ids = tokenizer("The meaning of life is", return_tensors="pt").input_ids\n'
        "print(tokenizer.decode(model.generate(ids, max_new_tokens=20)[0]))\n```\n",
        "Generation recomputes the whole prefix at each step (no cache), which is exact for every kind of block. "
        "The block takes no attention mask: generate one sequence at a time or equal-length batches.\n",
        "Evaluate with lm-eval's own `hf` model (the verifier used zero-shot, the limits in the table, and "
        f"max_length {inp.eval_max_length}):\n",
        f"```\nlm_eval --model hf --model_args pretrained={name},trust_remote_code=True "
        f"--tasks {tasks} --num_fewshot 0\n```\n",
        "## Versions\n",
        "\n".join(f"- {k}: {v}" for k, v in sorted(r.versions.items())) + "\n",
        f"Report format `{r.format}`; verified {r.started_at} to {r.finished_at}.\n",
        "## Licence\n",
        f"Weights and code: `{inp.license}`. The tokenizer is Llama 2's, under the Llama 2 Community License; "
        "the training and evaluation data keep their own licences.\n",
    ]
    return "\n".join(parts)
