"""The tokenizer files of an export, copied from the data directory, and their special-token ids.

The ids are read from the files (tokenizer.json, or a SentencePiece model) rather than by loading
a tokenizer, so the web process copies files and parses JSON only.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..train.data import resolve_path

TOKENIZER_FILES = ("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.json", "merges.txt", "added_tokens.json")
SPECIAL = ("bos", "eos", "pad", "unk")


def tokenizer_folder(spec: str, data_dir: Path | None) -> Path:
    folder = resolve_path(spec, data_dir)
    if folder is None or not folder.is_dir():
        raise FileNotFoundError(f"tokenizer folder {spec!r} not found (data directory: {data_dir})")
    return folder


def copy_tokenizer(folder: Path, out: Path) -> list[str]:
    copied = []
    for name in TOKENIZER_FILES:
        if (folder / name).is_file():
            shutil.copyfile(folder / name, out / name)  # not the mode: data files may be read-only
            copied.append(name)
    if not copied:
        raise FileNotFoundError(f"no tokenizer files in {folder}")
    return copied


def _token_text(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def special_token_ids(folder: Path) -> dict[str, int]:
    """{"bos_token_id": 1, ...} for the special tokens the tokenizer config names and the files define."""
    config = _read_json(folder / "tokenizer_config.json")
    config.update(_read_json(folder / "special_tokens_map.json"))
    lookup = _vocabulary(folder)
    out: dict[str, int] = {}
    for kind in SPECIAL:
        text = _token_text(config.get(f"{kind}_token"))
        if text is not None and text in lookup:
            out[f"{kind}_token_id"] = lookup[text]
    return out


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _vocabulary(folder: Path) -> dict[str, int]:
    if (folder / "tokenizer.json").is_file():
        data = json.loads((folder / "tokenizer.json").read_text())
        model_vocab = data.get("model", {}).get("vocab")
        if isinstance(model_vocab, dict):
            vocab = dict(model_vocab)
        else:  # unigram: a list of [piece, score]
            vocab = {row[0]: i for i, row in enumerate(model_vocab or [])}
        vocab.update({t["content"]: t["id"] for t in data.get("added_tokens", [])})
        return vocab
    if (folder / "tokenizer.model").is_file():
        import sentencepiece  # lazy; a dependency of the Llama tokenizer anyway

        sp = sentencepiece.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
        return {sp.id_to_piece(i): i for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)}
    if (folder / "vocab.json").is_file():
        return json.loads((folder / "vocab.json").read_text())
    return {}
