"""The data directory: say whether it is usable (`data_status`) and create one (`prepare_data`).

A data directory has the layout of the shared one: `tokenizers/<name>/` (a Hugging Face tokenizer
folder), `corpora/<name>/` (.txt or .jsonl files) and `lm_eval_tasks/` (offline lm-eval task
YAMLs reading `eval/...`). A directory prepared online instead keeps the evaluation sets in its
own Hugging Face datasets cache (`hf_datasets/`) and uses the stock lm-eval tasks; its choices
are written to `genesys-data.json`, which verification reads for its defaults.

`data_status` is cheap (file checks only): the dashboard and the start command call it so a user
learns that verification has no data before a run fails on it.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from .data import JSON_SUFFIXES, TEXT_SUFFIXES
from .ladder import FULL_TASKS, STOCK_TASK

MANIFEST = "genesys-data.json"
DEFAULT_TOKENIZER_DIR = "tokenizers/llama2"
DEFAULT_CORPUS_DIR = "corpora/gutenberg"
DEFAULT_HUB_TOKENIZER = "hf-internal-testing/llama-tokenizer"  # the Llama-2 tokenizer, not gated
DEFAULT_HUB_CORPUS = ("HuggingFaceFW/fineweb-edu", "sample-10BT")
TOKENIZER_FILES = ("tokenizer.model", "tokenizer.json", "vocab.json")
PREPARE_HINT = "create one with `python -m verifier.core prepare-data --out DIR` and set GENESYS_DATA_DIR=DIR"


def read_manifest(data_dir: Path | None) -> dict[str, Any]:
    """The data directory's own defaults (`genesys-data.json`), or the shared layout's."""
    defaults: dict[str, Any] = {"tokenizer": DEFAULT_TOKENIZER_DIR, "corpus": DEFAULT_CORPUS_DIR, "tasks": "local"}
    if data_dir is not None and (Path(data_dir) / MANIFEST).is_file():
        defaults.update(json.loads((Path(data_dir) / MANIFEST).read_text()))
    return defaults


def _corpus_files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    suffixes = TEXT_SUFFIXES + JSON_SUFFIXES
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes] if folder.is_dir() else []


def data_status(data_dir: Path | str | None) -> tuple[bool, str]:
    """(ok, message): whether `data_dir` holds a tokenizer, a corpus and evaluation tasks."""
    if data_dir is None or str(data_dir) == "":
        return False, f"no data directory is configured; {PREPARE_HINT}"
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        return False, f"the data directory {root} does not exist; {PREPARE_HINT}"
    manifest = read_manifest(root)
    problems, found = [], []
    tok_dir = root / manifest["tokenizer"]
    if tok_dir.is_dir() and any((tok_dir / f).exists() for f in TOKENIZER_FILES):
        found.append(f"tokenizer {manifest['tokenizer']}")
    else:
        problems.append(f"no tokenizer in {tok_dir} (expected one of {', '.join(TOKENIZER_FILES)})")
    files = _corpus_files(root / manifest["corpus"])
    if files:
        size = sum(p.stat().st_size for p in files)
        found.append(f"corpus {manifest['corpus']} ({len(files)} files, {size / 2**20:.0f} MiB)")
    else:
        problems.append(f"no corpus in {root / manifest['corpus']} (.txt or .jsonl files)")
    if manifest.get("tasks") == "stock":
        if (root / "hf_datasets").is_dir():
            found.append("stock lm-eval tasks (datasets cached in hf_datasets/)")
        else:
            problems.append(f"no evaluation sets in {root / 'hf_datasets'}")
    else:
        yamls = list((root / "lm_eval_tasks").rglob("*.yaml")) if (root / "lm_eval_tasks").is_dir() else []
        if yamls and (root / "eval").is_dir():
            found.append(f"{len(yamls)} local lm-eval task files")
        else:
            problems.append(f"no offline lm-eval tasks in {root / 'lm_eval_tasks'} with data in {root / 'eval'}")
    missing = [m for m in ("transformers", "datasets", "lm_eval", "sentencepiece")
               if importlib.util.find_spec(m) is None]
    note = f" (python packages missing for verification: {', '.join(missing)})" if missing else ""
    if problems:
        return False, f"data directory {root} is incomplete: " + "; ".join(problems) + f". {PREPARE_HINT}{note}"
    return True, f"data at {root}: " + ", ".join(found) + note


def prepare_data(out: Path, source: Path | None = None, online: bool = False,
                 tokenizer: str = DEFAULT_HUB_TOKENIZER, corpus: tuple[str, str | None] = DEFAULT_HUB_CORPUS,
                 corpus_bytes: int = 2**29, tasks: tuple[str, ...] = FULL_TASKS, log=print) -> tuple[bool, str]:
    """Make `out` a usable data directory.

    Offline (`source` given): accept an existing folder with the shared layout; `out` becomes a
    symlink to it (nothing is copied). Online: download the tokenizer, the first `corpus_bytes` of
    a hub corpus, and the evaluation sets of the stock lm-eval tasks, through transformers/datasets.
    """
    out = Path(out).expanduser()
    if source is not None:
        ok, message = data_status(source)
        if not ok:
            return ok, message
        if out.resolve() != Path(source).expanduser().resolve():
            if out.exists() or out.is_symlink():
                return False, f"{out} exists already; remove it or point GENESYS_DATA_DIR at {source}"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.symlink_to(Path(source).expanduser().resolve(), target_is_directory=True)
        return True, f"{message}\nset GENESYS_DATA_DIR={out}"
    if not online:
        return False, "nothing to do: give --from EXISTING_DIR (offline) or --online (downloads)"
    out.mkdir(parents=True, exist_ok=True)
    os.environ["HF_DATASETS_CACHE"] = str(out / "hf_datasets")  # before `datasets` is imported
    _download_tokenizer(out / DEFAULT_TOKENIZER_DIR, tokenizer, log)
    corpus_dir = f"corpora/{corpus[0].split('/')[-1]}"
    _download_corpus(out / corpus_dir, corpus, corpus_bytes, log)
    _download_eval_sets(out / "hf_datasets", [STOCK_TASK.get(t, t) for t in tasks], log)
    (out / MANIFEST).write_text(json.dumps({"tokenizer": DEFAULT_TOKENIZER_DIR, "corpus": corpus_dir,
                                            "tasks": "stock", "source": {"tokenizer": tokenizer,
                                                                         "corpus": list(corpus)}}, indent=2))
    ok, message = data_status(out)
    return ok, f"{message}\nset GENESYS_DATA_DIR={out}"


def _download_tokenizer(folder: Path, name: str, log) -> None:
    from transformers import AutoTokenizer

    log(f"tokenizer {name} -> {folder}")
    AutoTokenizer.from_pretrained(name).save_pretrained(str(folder))


def _download_corpus(folder: Path, corpus: tuple[str, str | None], max_bytes: int, log) -> None:
    import datasets

    name, config = corpus
    log(f"corpus {name} ({config}), first {max_bytes / 2**20:.0f} MiB -> {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    tmp = folder / "train.jsonl.tmp"
    with open(tmp, "w") as fh:
        for row in datasets.load_dataset(name, config, split="train", streaming=True):
            line = json.dumps({"text": row["text"]}) + "\n"
            fh.write(line)
            written += len(line)
            if written >= max_bytes:
                break
    os.replace(tmp, folder / "train.jsonl")


def _download_eval_sets(cache: Path, tasks: list[str], log) -> None:
    """Load each stock task once so its dataset lands in `cache` (HF_DATASETS_CACHE at eval time)."""
    import datasets
    from lm_eval.tasks import TaskManager, get_task_dict

    datasets.config.HF_DATASETS_CACHE = cache

    log(f"evaluation sets ({', '.join(tasks)}) -> {cache}")
    get_task_dict(tasks, TaskManager())
