"""Evaluation with lm-eval: the trained model behind lm-eval's HFLM, on local or stock tasks.

HFLM accepts an in-memory model when it looks like a Hugging Face causal LM (a config with a
context length, `.device`, `.tie_weights()`, a forward returning `.logits`). A thin
`PreTrainedModel` around GenesysLM provides exactly that. Two engines answer lm-eval's requests:
"fast" (default) is HFLM with the token-level scoring replaced by `scoring.score_requests`
(log-probabilities at the continuation positions only; exactly HFLM's numbers), "hflm" is HFLM
unchanged, kept as the oracle the fast engine is tested against. lm-eval builds the requests and
computes the metrics either way; each task's row also gets the likelihood-based scores of
`likelihood.py`, computed from the same loglikelihoods (lm-eval's logged samples).

Local tasks (`<data_dir>/lm_eval_tasks`) name their data files relative to the data directory;
they are copied once into the cache with those paths made absolute, so evaluation runs from any
working directory and fully offline.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..model import GenesysLM
from .eval_progress import EvalProgress
from .ladder import STOCK_TASK
from .likelihood import likelihood_rows

ENGINES = ("fast", "hflm")

METRICS = ("acc", "acc_norm", "perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte")
_DATA_PATH = re.compile(r"^(\s*[\w-]+:\s*)(eval/\S+?)\s*$")


@cache
def _hf_classes() -> tuple[type, type]:
    from transformers import PretrainedConfig, PreTrainedModel
    from transformers.modeling_outputs import CausalLMOutput

    class GenesysHFConfig(PretrainedConfig):
        model_type = "genesys"

        def __init__(self, vocab_size: int = 32000, max_position_embeddings: int = 2048, **kwargs: Any):
            self.vocab_size = vocab_size
            self.max_position_embeddings = max_position_embeddings
            kwargs.setdefault("tie_word_embeddings", False)  # GenesysLM ties its own head
            super().__init__(**kwargs)

    class GenesysForCausalLM(PreTrainedModel):
        """A GenesysLM dressed as a Hugging Face causal LM (for lm-eval's HFLM)."""

        config_class = GenesysHFConfig
        base_model_prefix = "lm"

        def __init__(self, config: GenesysHFConfig, lm: nn.Module):
            super().__init__(config)
            self.lm = lm

        def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None, **_: Any):
            out = self.lm(input_ids, labels=labels)
            return CausalLMOutput(loss=out.loss, logits=out.logits)

        def tie_weights(self, *args: Any, **kwargs: Any) -> None:
            pass  # already tied inside GenesysLM

    return GenesysHFConfig, GenesysForCausalLM


def as_hf_model(lm: GenesysLM) -> nn.Module:
    """Wrap a GenesysLM so that lm-eval's HFLM (and other HF code) accepts it."""
    config_cls, model_cls = _hf_classes()
    config = config_cls(vocab_size=lm.config.vocab_size, max_position_embeddings=lm.config.context_length)
    return model_cls(config, lm).eval()


def install_template_cache() -> None:
    """Make lm-eval compile each prompt template once instead of once per document.

    `lm_eval.utils.apply_template` calls `env.from_string(template)` for every document and field
    (about 308k times for a GPU rung's tasks), which is most of lm-eval's own CPU time. Compiled
    templates are immutable and render the same; caching them changes nothing but the time."""
    from lm_eval import utils

    if getattr(utils.apply_template, "genesys_cached", False):
        return
    compiled = functools.lru_cache(maxsize=4096)(utils.env.from_string)

    def apply_template(template: str, doc: dict) -> str:
        return compiled(template).render(**doc)

    apply_template.genesys_cached = True  # type: ignore[attr-defined]
    apply_template.compiled = compiled  # type: ignore[attr-defined]
    utils.apply_template = apply_template


def install_light_env_info() -> None:
    """Record the environment without starting programs.

    `simple_evaluate` ends with `add_env_info`, torch's `collect_env` (pip, conda, nvidia-smi, gcc, ...
    as subprocesses: 1.5 s per call on an idle 2-core box, 9 s under load, refused by the sandbox's
    audit hook anyway) and `git describe`. A verification records its own environment in its
    report; lm-eval's results keep the versions that matter."""
    from importlib.metadata import version

    from lm_eval import evaluator

    if getattr(evaluator.add_env_info, "genesys_light", False):
        return

    def add_env_info(storage: dict[str, Any]) -> None:
        import transformers

        storage.update(pretty_env_info=f"torch {torch.__version__}", transformers_version=transformers.__version__,
                       lm_eval_version=version("lm_eval"), upper_git_hash=None)

    add_env_info.genesys_light = True  # type: ignore[attr-defined]
    evaluator.add_env_info = add_env_info
    evaluator.get_git_commit_hash = lambda: None


def local_tasks_dir(data_dir: Path | None) -> Path | None:
    folder = Path(data_dir) / "lm_eval_tasks" if data_dir else None
    return folder if folder is not None and folder.is_dir() else None


_NO_FEWSHOT_POOL = "fewshot_config:\n  samples: []  # zero-shot: no few-shot pool to build (added by Genesys)"


def rewrite_task_paths(tasks_dir: Path, data_dir: Path, cache_dir: Path, zero_shot: bool = False) -> Path:
    """A copy of `tasks_dir` whose `eval/...` data paths point into `data_dir` absolutely.

    `zero_shot`: also give every task an empty few-shot pool. lm-eval otherwise turns a task's whole
    training or validation split into Python dicts when it builds the task (77k rows, about 20 s
    for the CPU rungs' tasks, BLiMP's 67 subsets most of it), only to draw no examples at zero shots."""
    files = sorted(p for p in tasks_dir.rglob("*") if p.is_file())
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode())
    if zero_shot:
        digest.update(_NO_FEWSHOT_POOL.encode())
    for path in files:
        digest.update(path.relative_to(tasks_dir).as_posix().encode() + path.read_bytes())
    target = Path(cache_dir) / "lm_eval_tasks" / digest.hexdigest()[:16]
    if target.is_dir():
        return target
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    root = Path(data_dir).resolve()
    for path in files:
        out = tmp / path.relative_to(tasks_dir)
        out.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for line in path.read_text().splitlines():
            m = _DATA_PATH.match(line)
            lines.append(f"{m.group(1)}{root / m.group(2)}" if m else line)
        is_task = any(line.startswith("output_type:") for line in lines)
        if zero_shot and is_task and not any(line.startswith("fewshot_config:") for line in lines):
            lines.append(_NO_FEWSHOT_POOL)
        out.write_text("\n".join(lines) + "\n")
    try:
        tmp.rename(target)
    except OSError:  # another process wrote it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target


@cache
def _task_manager(include: str | None, stock_index: bool) -> Any:
    """One TaskManager per task folder and process. Without `stock_index` it indexes only the local
    tasks: indexing lm-eval's thousands of stock task files takes about a minute on two cores."""
    manager_cls = _recording_task_manager()
    if include is None:
        return manager_cls()
    return manager_cls(include_path=include, include_defaults=stock_index)


def resolve_tasks(tasks: list[str] | tuple[str, ...], data_dir: Path | None) -> list[str]:
    """Local task names where the data directory has them, else their stock lm-eval names."""
    if local_tasks_dir(data_dir) is not None:
        return list(tasks)
    return [STOCK_TASK.get(t, t) for t in tasks]


def summarize(results: dict[str, Any], tasks: list[str], limit: int | None) -> dict[str, dict[str, Any]]:
    """Per requested task (or group): acc, acc_norm, their stderr, perplexities, sample count."""
    out: dict[str, dict[str, Any]] = {}
    table = {**results.get("results", {}), **results.get("groups", {})}
    n_samples = results.get("n-samples", {})
    for task in tasks:
        raw = table.get(task, {})
        row: dict[str, Any] = {}
        for metric in METRICS:
            value = raw.get(f"{metric},none")
            if isinstance(value, (int, float)):
                row[metric] = float(value)
                stderr = raw.get(f"{metric}_stderr,none")
                row[f"{metric}_stderr"] = float(stderr) if isinstance(stderr, (int, float)) else None
        samples = n_samples.get(task, {}).get("effective")
        if samples is None:  # a group: add up its subtasks
            subtasks = results.get("group_subtasks", {}).get(task, [])
            samples = sum(n_samples.get(t, {}).get("effective", 0) for t in subtasks) or None
        row["samples"] = samples
        row["limit"] = limit
        out[task] = row
    return out


@cache
def _recording_task_manager() -> type:
    from lm_eval.tasks import TaskManager

    class RecordingTaskManager(TaskManager):
        """A TaskManager that keeps the Task objects it builds (by name), for the likelihood scores."""

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.built: dict[str, Any] = {}

        def load(self, task_list: Any) -> Any:
            loaded = super().load(task_list)
            self.built.update(loaded.get("tasks", {}))
            return loaded

    return RecordingTaskManager


def make_harness(lm: GenesysLM, tokenizer: Any, engine: str = "fast", batch_size: int = 16,
                 max_length: int | None = None, device: torch.device | None = None) -> Any:
    """The lm-eval model for `lm`: HFLM with exact fast scoring ("fast") or plain HFLM ("hflm")."""
    if engine not in ENGINES:
        raise ValueError(f"unknown evaluation engine {engine!r}; engines are {', '.join(ENGINES)}")
    from lm_eval.models.huggingface import HFLM

    from .scoring import genesys_hflm_class

    device = device or next(lm.parameters()).device
    harness_cls = genesys_hflm_class() if engine == "fast" else HFLM
    return harness_cls(
        pretrained=as_hf_model(lm), tokenizer=tokenizer, backend="causal", batch_size=batch_size,
        max_length=max_length or max(lm.config.context_length, 256),
        mixed_precision_dtype=torch.bfloat16 if device.type == "cuda" else None, softmax_dtype=torch.float32,
    )


def evaluate(lm: GenesysLM, tokenizer: Any, tasks: list[str] | tuple[str, ...], data_dir: Path | None,
             cache_dir: Path, limit: int | None = None, batch_size: int = 16, device: torch.device | None = None,
             bootstrap_iters: int = 100, seed: int = 1234, max_length: int | None = None,
             limits: Mapping[str, int | None] | None = None, engine: str = "fast",
             progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, dict[str, Any]]:
    """Run lm-eval on `tasks` (zero-shot) and return a summary per task.

    `limit` is the number of examples per task (per subtask of a group); `limits` overrides it for
    named tasks (tasks sharing a limit are evaluated in one lm-eval call). `max_length` bounds
    context + continuation (lm-eval cuts contexts from the left and refuses a longer continuation);
    default: the training context, but at least 256 tokens so the short contexts of the CPU rungs
    can still score every answer. `engine`: "fast" (exact fast scoring) or "hflm" (lm-eval's HFLM
    as it is). Each row: acc, acc_norm, perplexities with their stderr, `samples`, `limit`, and for
    multiple-choice tasks `logprob_per_byte`, `margin` (with `_stderr`) and `docs` (likelihood.py).
    `progress` hears "eval" events: requests scored / asked per task (fast engine; eval_progress.py)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown evaluation engine {engine!r}; engines are {', '.join(ENGINES)}")
    tasks_dir = local_tasks_dir(data_dir)
    if tasks_dir is not None:
        _offline_for_local_tasks()
    elif data_dir is not None and (Path(data_dir) / "hf_datasets").is_dir():
        # A data directory prepared online keeps the stock tasks' datasets in its own cache; set
        # at run time too, since `datasets` may have been imported (and read the env) already.
        import datasets

        os.environ["HF_DATASETS_CACHE"] = str(Path(data_dir) / "hf_datasets")
        datasets.config.HF_DATASETS_CACHE = Path(data_dir) / "hf_datasets"
    # lm-eval bootstraps perplexity stderrs in a fork()ed multiprocessing.Pool: a fork of this
    # threaded process (torch's pools, the progress writer) can deadlock in the child (seen: the
    # e2e check hung there for good). In-process bootstrapping of 100 draws takes milliseconds.
    os.environ["DISABLE_MULTIPROC"] = "1"
    import lm_eval  # lazy: only evaluation needs it

    for name in ("lm-eval", "lm_eval"):
        logging.getLogger(name).setLevel(logging.WARNING)
    install_template_cache()
    install_light_env_info()
    device = device or next(lm.parameters()).device
    names = resolve_tasks(tasks, data_dir)
    # The fast engine also loads tasks lean (local index, no few-shot pools); "hflm" is lm-eval as it is.
    lean = engine == "fast"
    include = str(rewrite_task_paths(tasks_dir, Path(data_dir), cache_dir, zero_shot=lean)) \
        if tasks_dir and data_dir else None
    if lean:
        manager = _task_manager(include, stock_index=False)
    else:
        manager = _recording_task_manager()(**({"include_path": include} if include else {}))
    harness = make_harness(lm, tokenizer, engine, batch_size=batch_size, max_length=max_length, device=device)
    if progress is not None and engine == "fast":
        harness.progress = EvalProgress(progress)
    stock = dict(zip(tasks, names, strict=True))
    summary: dict[str, dict[str, Any]] = {}
    for task_limit, batch in limit_batches(tasks, limit, limits):
        batch_names = [stock[t] for t in batch]
        results = lm_eval.simple_evaluate(
            model=harness, tasks=batch_names, num_fewshot=0, limit=task_limit, task_manager=manager,
            log_samples=True, bootstrap_iters=bootstrap_iters, random_seed=seed, numpy_random_seed=seed,
            torch_random_seed=seed, fewshot_random_seed=seed,
        )
        if results is None:
            raise RuntimeError("lm-eval returned no results")
        summary.update(summarize(results, batch_names, task_limit))
        for name, scores in likelihood_rows(results, manager.built, batch_names).items():
            summary[name].update(scores)
    return {task: summary[stock[task]] for task in tasks}


def _offline_for_local_tasks() -> None:
    """Local tasks read local files only: nothing may reach for the hub, even if `datasets` was
    imported before this call.

    `datasets` reads HF_HUB_OFFLINE when it is imported (so the variable alone is too late then);
    online, every `load_dataset` sends a download-count HEAD request to the hub first (76 per
    CPU-rung evaluation). Without a network each one waits on DNS: 5.0 s of the fast engine's 16 s
    on this box, none of it computation."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets

    datasets.config.HF_HUB_OFFLINE = True
    datasets.config.HF_DATASETS_OFFLINE = True
    datasets.config.HF_UPDATE_DOWNLOAD_COUNTS = False


def limit_batches(tasks: list[str] | tuple[str, ...], limit: int | None,
                  limits: Mapping[str, int | None] | None) -> list[tuple[int | None, list[str]]]:
    """Tasks grouped by the example limit they run with, in first-seen order."""
    batches: dict[int | None, list[str]] = {}
    for task in tasks:
        task_limit = limits.get(task, limit) if limits else limit
        batches.setdefault(task_limit, []).append(task)
    return list(batches.items())
