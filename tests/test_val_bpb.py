"""Bits per byte on held-out text: the report's val_bpb equals a direct computation from the logits."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from verifier.core.gau import compose, load_gab
from verifier.core.seeds import load_seed
from verifier.core.train.autotune import build_model
from verifier.core.train.data import PackedSequences, load_tokenizer
from verifier.core.train.trainer import Validation, scored_bytes, validate, validation_loss

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish? The café — naïve, 1234.\n") * 3


@pytest.fixture(scope="module")
def tokenizer(genesys_data_dir):
    return load_tokenizer("tokenizers/llama2", genesys_data_dir)


def piece_bytes(tokenizer, token_id: int) -> int:
    """Independent byte count of one SentencePiece token: '▁' is a space, <0xHH> is one byte."""
    if token_id in tokenizer.all_special_ids:
        return 0
    piece = tokenizer.convert_ids_to_tokens(token_id)
    if re.fullmatch(r"<0x[0-9A-Fa-f]{2}>", piece):
        return 1
    return len(piece.replace("\u2581", " ").encode("utf-8"))


def test_val_bpb_matches_a_direct_computation(tokenizer):
    ids = np.asarray(tokenizer(TEXT, add_special_tokens=False)["input_ids"], dtype=np.uint16)
    val = PackedSequences(ids, 16)
    gab_cls, cfg = load_gab(compose(load_seed("gpt")), "gpt")
    torch.manual_seed(0)
    model = build_model(gab_cls, cfg, len(tokenizer), 32, 1, 16).eval()

    got = validate(model, val, torch.device("cpu"), tokenizer=tokenizer, batch_size=3, max_sequences=7)

    rows = val.get(np.arange(7))
    with torch.no_grad():
        logits = model(rows).logits.double()
    nats = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), rows[:, 1:].reshape(-1), reduction="sum")
    n_bytes = sum(piece_bytes(tokenizer, t) for t in rows[:, 1:].reshape(-1).tolist())
    assert got.tokens == 7 * 15
    assert got.bytes == n_bytes
    assert got.bytes_per_token == pytest.approx(n_bytes / (7 * 15))
    assert got.loss == pytest.approx(float(nats) / (7 * 15), abs=1e-4)
    assert got.bpb == pytest.approx(float(nats) / math.log(2) / n_bytes, abs=1e-4)
    # the plain loss helper is the same number
    assert validation_loss(model, val, torch.device("cpu"), max_sequences=7) == pytest.approx(got.loss, abs=1e-6)


def test_scored_bytes_cover_the_text_but_each_rows_first_token(tokenizer):
    ids = tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    row = torch.tensor([ids])
    # one row of the whole text: every byte but those of the first token ("First") is scored
    assert tokenizer.decode(ids[:1]) == "First"
    assert scored_bytes(tokenizer, row) == len(TEXT.encode()) - len(b"First")
    bos = tokenizer.bos_token_id
    assert scored_bytes(tokenizer, torch.tensor([[bos, bos]])) == 0  # special tokens are no text
    assert scored_bytes(tokenizer, torch.tensor([ids[:1]])) == 0  # one token: nothing scored


def test_validation_without_bytes_has_no_bpb():
    assert Validation(loss=2.0, tokens=10).bpb is None
    assert Validation(loss=2.0, tokens=10, bytes=0).bpb is None
    assert Validation(loss=math.nan, tokens=10, bytes=40).bpb is None
    assert Validation(loss=2.0, tokens=10, bytes=40).bpb == pytest.approx(2.0 * 10 / math.log(2) / 40)
    assert Validation(loss=2.0, tokens=10, bytes=40).bytes_per_token == 4.0
