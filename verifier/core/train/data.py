"""Training data: a tokenizer, a corpus, one token stream with a held-out tail, cached on disk.

A corpus is a local file or folder of .txt/.jsonl files (relative to the data directory or
absolute) or a Hugging Face hub dataset name, read through `datasets`. Documents are shuffled
with a fixed seed, tokenised, joined with BOS between documents, and the last `val_tokens` are
held out. The stream is stored as one flat uint16/uint32 file under the cache directory, keyed by the
corpus content and the tokenizer, so a second run (any design, any rung) does not tokenise again.
Packing into fixed-length sequences happens when the stream is read, so one cache serves every
context length.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

TEXT_SUFFIXES = (".txt", ".text", ".md")
JSON_SUFFIXES = (".jsonl", ".json")
GUTENBERG_START, GUTENBERG_END = "*** START OF", "*** END OF"


def default_cache_dir() -> Path:
    """`GENESYS_CACHE_DIR`, else ~/.cache/genesys (the data directory is treated as read-only)."""
    env = os.environ.get("GENESYS_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "genesys"


@dataclass(frozen=True)
class DataConfig:
    corpus: str = "corpora/gutenberg"  # path (relative to the data dir, or absolute) or hub dataset
    tokenizer: str = "tokenizers/llama2"  # path (same rule) or hub tokenizer name
    hub_config: str | None = None  # dataset configuration name for a hub corpus
    hub_split: str = "train"
    text_field: str = "text"
    val_tokens: int = 2**20  # the held-out tail (at most a tenth of the corpus)
    max_tokens: int | None = None  # stop reading the corpus after this many tokens (None: all)
    shuffle_seed: int = 0  # document order; independent of the training seed so caches are shared
    strip_gutenberg: bool = True  # drop Project Gutenberg licence headers and footers


def resolve_path(spec: str, data_dir: Path | None) -> Path | None:
    """`spec` as an existing local path (absolute, or under the data directory), else None."""
    path = Path(spec).expanduser()
    if path.is_absolute():
        return path if path.exists() else None
    if data_dir is not None and (Path(data_dir) / spec).exists():
        return Path(data_dir) / spec
    return path if path.exists() else None


# ---- tokenizer ---------------------------------------------------------------------------------

@cache
def _load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer  # lazy: the core imports with torch alone

    tok = AutoTokenizer.from_pretrained(name_or_path)
    # transformers can build a silently empty tokenizer from a bad folder: refuse it here.
    if len(tok) < 2 or not tok("hello world", add_special_tokens=False)["input_ids"]:
        raise ValueError(f"tokenizer {name_or_path!r} loaded empty (is sentencepiece/protobuf installed?)")
    tok.model_max_length = 10**9  # we pack long documents ourselves; silence the length warning
    return tok


def load_tokenizer(spec: str, data_dir: Path | None = None):
    """A Hugging Face tokenizer from a folder (relative to the data directory or absolute) or hub name."""
    local = resolve_path(spec, data_dir)
    return _load_tokenizer(str(local) if local is not None else spec)


def tokenizer_fingerprint(tok) -> str:
    probe = "The quick brown fox, 1234 — naïve café.\n\nNew paragraph."
    payload = {"cls": type(tok).__name__, "n": len(tok), "bos": tok.bos_token_id, "eos": tok.eos_token_id,
               "probe": tok(probe, add_special_tokens=False)["input_ids"]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


# ---- corpus ------------------------------------------------------------------------------------

def strip_gutenberg_boilerplate(text: str) -> str:
    """The text between Project Gutenberg's START and END markers (unchanged if there are none)."""
    start = text.find(GUTENBERG_START)
    if start >= 0:
        newline = text.find("\n", start)
        text = text[newline + 1:] if newline >= 0 else text
    end = text.find(GUTENBERG_END)
    return text[:end] if end >= 0 else text


def corpus_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES + JSON_SUFFIXES)


def corpus_fingerprint(config: DataConfig, data_dir: Path | None) -> str:
    """Content hash of a local corpus (names, sizes, bytes), or the identity of a hub dataset."""
    local = resolve_path(config.corpus, data_dir)
    digest = hashlib.sha256()
    if local is None:
        digest.update(f"hub:{config.corpus}:{config.hub_config}:{config.hub_split}".encode())
    else:
        for path in corpus_files(local):
            digest.update(f"{path.relative_to(local) if local.is_dir() else path.name}:{path.stat().st_size}\n".encode())
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):  # noqa: B023 - fh is bound per loop
                    digest.update(block)
    return digest.hexdigest()[:16]


def iter_documents(config: DataConfig, data_dir: Path | None, hf_cache: Path) -> Iterator[str]:
    """Documents of the corpus, in a fixed shuffled order (local) or the hub's order (streamed)."""
    import datasets  # lazy

    local = resolve_path(config.corpus, data_dir)
    if local is None:
        stream = datasets.load_dataset(config.corpus, config.hub_config, split=config.hub_split, streaming=True)
        for row in stream:
            yield row[config.text_field]
        return
    files = corpus_files(local)
    if not files:
        raise FileNotFoundError(f"no .txt or .jsonl files in {local}")
    texts = [str(p) for p in files if p.suffix.lower() in TEXT_SUFFIXES]
    jsons = [str(p) for p in files if p.suffix.lower() in JSON_SUFFIXES]
    docs: list[str] = []
    if texts:
        ds = datasets.load_dataset("text", data_files=texts, sample_by="document", split="train",
                                   cache_dir=str(hf_cache))
        docs.extend(ds["text"])
    if jsons:
        ds = datasets.load_dataset("json", data_files=jsons, split="train", cache_dir=str(hf_cache))
        docs.extend(ds[config.text_field])
    random.Random(config.shuffle_seed).shuffle(docs)
    yield from docs


# ---- tokenised stream --------------------------------------------------------------------------

@dataclass
class TokenStream:
    """The tokenised corpus: train and held-out token arrays (memory-mapped) and their provenance."""

    train: np.ndarray
    val: np.ndarray
    meta: dict[str, Any]

    @property
    def data_hash(self) -> str:
        return str(self.meta["key"])


def cache_key(config: DataConfig, data_dir: Path | None, tok) -> str:
    payload = {"corpus": corpus_fingerprint(config, data_dir), "tokenizer": tokenizer_fingerprint(tok),
               "config": {k: v for k, v in asdict(config).items() if k not in ("corpus", "tokenizer")}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def load_token_stream(config: DataConfig, data_dir: Path | None, cache_dir: Path | None = None,
                      log=print, read_only_caches: tuple[Path, ...] = ()) -> TokenStream:
    """Tokenise the corpus once (cached under `cache_dir/tokens/<key>`) and return its two splits.
    `read_only_caches` are looked in first (a sandboxed run reads the shared cache, writes its own)."""
    cache_root = Path(cache_dir or default_cache_dir())
    tok = load_tokenizer(config.tokenizer, data_dir)
    key = cache_key(config, data_dir, tok)
    shared = [Path(c) / "tokens" / key for c in read_only_caches]
    folder = next((f for f in shared if _readable(f / "meta.json")), cache_root / "tokens" / key)
    if not (folder / "meta.json").exists():
        log(f"tokenising {config.corpus} (once; cached in {folder})")
        _build_cache(config, data_dir, tok, key, folder, cache_root / "hf_datasets")
    meta = json.loads((folder / "meta.json").read_text())
    tokens = np.memmap(folder / "tokens.bin", dtype=np.dtype(meta["dtype"]), mode="r")
    n_train = int(meta["train_tokens"])
    return TokenStream(train=tokens[:n_train], val=tokens[n_train:], meta=meta)


def _readable(path: Path) -> bool:
    return os.access(path, os.R_OK)


def _build_cache(config: DataConfig, data_dir: Path | None, tok, key: str, folder: Path, hf_cache: Path) -> None:
    """Stream the tokenised documents into one file; its last `val_tokens` are the held-out split."""
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    dtype = np.uint16 if len(tok) < 2**16 else np.uint32
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
    n_tokens = n_docs = 0
    batch: list[str] = []
    limit = config.max_tokens
    with open(tmp / "tokens.bin", "wb") as out:

        def flush() -> None:
            nonlocal n_tokens, n_docs
            for ids in tok(batch, add_special_tokens=False)["input_ids"]:
                doc = np.asarray([bos, *ids], dtype=dtype)
                if limit is not None:
                    doc = doc[: max(0, limit - n_tokens)]
                doc.tofile(out)
                n_tokens += len(doc)
                n_docs += 1
            batch.clear()

        for text in iter_documents(config, data_dir, hf_cache):
            if config.strip_gutenberg:
                text = strip_gutenberg_boilerplate(text)
            if text.strip():
                batch.append(text)
            if len(batch) >= 64:
                flush()
            if limit is not None and n_tokens >= limit:
                break
        if batch and (limit is None or n_tokens < limit):
            flush()
    n_val = min(config.val_tokens, n_tokens // 10)
    if n_tokens - n_val < 2:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(f"corpus {config.corpus!r} is too small: {n_tokens} tokens")
    meta = {"key": key, "corpus": config.corpus, "tokenizer": config.tokenizer, "vocab_size": len(tok),
            "dtype": np.dtype(dtype).name, "documents": n_docs, "train_tokens": n_tokens - n_val,
            "val_tokens": n_val, "config": asdict(config)}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared (sandboxed runs read it as other users)
    try:
        tmp.rename(folder)  # atomic; another process may have won the race, which is fine
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- packed sequences and batches --------------------------------------------------------------

class PackedSequences:
    """A token array cut into consecutive non-overlapping sequences of `seq_len` tokens."""

    def __init__(self, tokens: np.ndarray, seq_len: int):
        self.tokens = tokens
        self.seq_len = seq_len
        self.n = len(tokens) // seq_len
        if self.n == 0:
            raise ValueError(f"{len(tokens)} tokens make no sequence of {seq_len}")

    def __len__(self) -> int:
        return self.n

    def get(self, indices: np.ndarray) -> torch.Tensor:
        rows = self.tokens[: self.n * self.seq_len].reshape(self.n, self.seq_len)[np.sort(indices)]
        return torch.from_numpy(rows.astype(np.int64))


class BatchOrder:
    """Which sequences form step `s`'s batch: a fresh seeded permutation per epoch, so a resumed run
    sees exactly the batches the interrupted one would have."""

    def __init__(self, n_sequences: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed = n_sequences, batch_size, seed
        self._epoch: int | None = None
        self._perm: np.ndarray | None = None

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._epoch != epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._epoch = epoch
        assert self._perm is not None
        return self._perm

    def indices(self, step: int) -> np.ndarray:
        start = step * self.batch_size
        out = []
        for pos in range(start, start + self.batch_size):
            epoch, offset = divmod(pos, self.n)
            out.append(self._permutation(epoch)[offset])
        return np.asarray(out)

    def epochs(self, steps: int) -> float:
        return steps * self.batch_size / self.n
