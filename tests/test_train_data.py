"""Training data: the tokenizer, the tokenised cache, the held-out split, packing and batch order;
the data directory's status; lm-eval task files made path-independent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from verifier.core.train import data_status
from verifier.core.train.data import (
    BatchOrder,
    DataConfig,
    PackedSequences,
    load_token_stream,
    load_tokenizer,
    strip_gutenberg_boilerplate,
)
from verifier.core.train.evaluation import rewrite_task_paths


@pytest.fixture(scope="module")
def tokenizer(genesys_data_dir):
    return load_tokenizer("tokenizers/llama2", genesys_data_dir)


def test_llama2_tokenizer_loads_from_the_data_directory(tokenizer):
    assert len(tokenizer) == 32000
    assert tokenizer.bos_token_id == 1
    assert tokenizer("Hello world", add_special_tokens=False)["input_ids"] == [15043, 3186]


def test_token_cache_is_built_once_and_holds_out_a_tail(tmp_path, genesys_data_dir, tokenizer):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    docs = [f"Document number {i}. " + "The cat sat on the mat. " * (20 + i) for i in range(30)]
    (corpus / "a.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in docs[:20]))
    (corpus / "b.txt").write_text("\n\n".join(docs[20:]))  # one text file is one document
    config = DataConfig(corpus=str(corpus), tokenizer="tokenizers/llama2", val_tokens=500)
    logs: list[str] = []
    stream = load_token_stream(config, genesys_data_dir, tmp_path / "cache", log=logs.append)
    assert len(logs) == 1 and "tokenising" in logs[0]
    assert stream.meta["documents"] == 21
    assert len(stream.val) == 500
    expected = sum(len(tokenizer(d, add_special_tokens=False)["input_ids"]) + 1 for d in docs[:20])
    expected += len(tokenizer("\n\n".join(docs[20:]), add_special_tokens=False)["input_ids"]) + 1
    assert len(stream.train) + len(stream.val) == expected
    assert int((np.asarray(stream.train) == tokenizer.bos_token_id).sum()) >= 19  # BOS between documents

    again = load_token_stream(config, genesys_data_dir, tmp_path / "cache", log=logs.append)
    assert len(logs) == 1  # not tokenised again
    assert again.data_hash == stream.data_hash
    assert np.array_equal(np.asarray(again.train), np.asarray(stream.train))

    (corpus / "b.txt").write_text("changed")  # new content, new cache
    changed = load_token_stream(config, genesys_data_dir, tmp_path / "cache", log=logs.append)
    assert len(logs) == 2 and changed.data_hash != stream.data_hash


def test_max_tokens_caps_the_stream(tmp_path, genesys_data_dir):
    config = DataConfig(corpus="corpora/tinyshakespeare", val_tokens=1000, max_tokens=20_000)
    stream = load_token_stream(config, genesys_data_dir, tmp_path / "cache", log=lambda m: None)
    assert len(stream.train) + len(stream.val) == 20_000


def test_packed_sequences_and_batch_order():
    tokens = np.arange(1003, dtype=np.uint16)
    packed = PackedSequences(tokens, 10)
    assert len(packed) == 100
    batch = packed.get(np.array([3, 0]))
    assert batch.shape == (2, 10) and batch[0, 0] == 0 and batch[1, 0] == 30

    order = BatchOrder(len(packed), batch_size=8, seed=7)
    epoch = np.concatenate([order.indices(s) for s in range(12)])[:100]  # 12 x 8 = 96 (+4 of epoch 2)
    seen = np.concatenate([order.indices(s) for s in range(13)])[:100]
    assert sorted(seen.tolist()) == list(range(100))  # one epoch covers every sequence once
    assert np.array_equal(epoch[:96], seen[:96])
    again = BatchOrder(len(packed), batch_size=8, seed=7)
    assert np.array_equal(again.indices(11), order.indices(11))  # a resumed run sees the same batch
    assert not np.array_equal(BatchOrder(100, 8, seed=8).indices(0), order.indices(0))


def test_gutenberg_boilerplate_is_stripped():
    text = "licence blah\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nCall me Ishmael.\n*** END OF THE BOOK ***\nmore"
    assert strip_gutenberg_boilerplate(text).strip() == "Call me Ishmael."
    assert strip_gutenberg_boilerplate("plain text") == "plain text"


def test_data_status_explains_what_is_missing(tmp_path, genesys_data_dir):
    ok, message = data_status(genesys_data_dir)
    assert ok, message
    assert "tokenizer" in message and "corpus" in message

    ok, message = data_status(None)
    assert not ok and "prepare-data" in message and "GENESYS_DATA_DIR" in message
    ok, message = data_status(tmp_path / "nowhere")
    assert not ok and "does not exist" in message

    partial = tmp_path / "partial"
    (partial / "tokenizers" / "llama2").mkdir(parents=True)
    (partial / "tokenizers" / "llama2" / "tokenizer.model").write_bytes(b"x")
    ok, message = data_status(partial)
    assert not ok and "no corpus" in message and "lm-eval" in message and "no tokenizer" not in message


def test_prepare_data_accepts_an_existing_folder(tmp_path, genesys_data_dir):
    from verifier.core.train import prepare_data

    ok, message = prepare_data(tmp_path / "data", source=genesys_data_dir)
    assert ok, message
    assert (tmp_path / "data").resolve() == Path(genesys_data_dir).resolve()
    assert data_status(tmp_path / "data")[0]
    ok, message = prepare_data(tmp_path / "bad", source=tmp_path / "nowhere")
    assert not ok and not (tmp_path / "bad").exists()


def test_local_task_files_get_absolute_data_paths(tmp_path, genesys_data_dir):
    folder = rewrite_task_paths(Path(genesys_data_dir) / "lm_eval_tasks", Path(genesys_data_dir), tmp_path)
    piqa = (folder / "piqa_local.yaml").read_text()
    path = next(line.split(":", 1)[1].strip() for line in piqa.splitlines() if "valid_labeled" in line)
    assert Path(path).is_absolute() and Path(path).is_file()
    blimp = (folder / "blimp" / "blimp_local_adjunct_island.yaml").read_text()
    assert str(Path(genesys_data_dir).resolve() / "eval" / "blimp" / "adjunct_island.jsonl") in blimp
    assert rewrite_task_paths(Path(genesys_data_dir) / "lm_eval_tasks", Path(genesys_data_dir), tmp_path) == folder
