"""The synthetic capability probes: what each task asks (checked against a plain re-derivation),
that they are reproducible from their seeds, and that the small trainer learns and fails cleanly."""

from __future__ import annotations

import math

import pytest
import torch

from verifier.core.gau import compose, load_gab
from verifier.core.probes import PROBES, ProbeConfig, ProbeFailure, run_probes, train_probe
from verifier.core.probes.base import IGNORE, generator
from verifier.core.probes.memorization import N_TOKENS, TABLE
from verifier.core.probes.recall import kv_stream
from verifier.core.seeds import load_seed

TINY = ProbeConfig(steps=3, batch_size=4, test_size=8, seq_len=32)


@pytest.fixture(scope="module")
def gpt():
    return load_gab(compose(load_seed("gpt")), "gpt")


@pytest.mark.parametrize("name", sorted(PROBES))
def test_every_probe_makes_valid_reproducible_batches(name):
    probe = PROBES[name]
    a = probe.make_batch(5, 32, generator(3))
    b = probe.make_batch(5, 32, generator(3))
    c = probe.make_batch(5, 32, generator(4))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    assert a.x.dtype == torch.long and a.x.min() >= 0 and a.x.max() < probe.vocab_size
    scored = a.y[a.y != IGNORE]
    assert scored.numel() > 0 and scored.min() >= 0 and scored.max() < probe.vocab_size
    assert 0 < probe.chance < 1
    if probe.decoder_len:
        assert a.y.shape == (5, probe.decoder_len)
    else:
        assert a.y.shape == a.x.shape


def test_recall_targets_are_the_values_of_keys_seen_before():
    """Re-derive the targets of a recall stream by reading it left to right."""
    x, y = kv_stream(6, 20, 4, 4, generator(0), key_len=2, value_len=2)
    for row in range(6):
        seen: dict[tuple[int, ...], tuple[int, ...]] = {}
        expected = torch.full_like(y[row], IGNORE)
        for pair in range(20):
            start = pair * 4
            key, value = tuple(x[row, start:start + 2].tolist()), tuple(x[row, start + 2:start + 4].tolist())
            if key in seen:
                assert seen[key] == value  # one mapping per sequence
                expected[start + 1] = value[0]
                expected[start + 2] = value[1]
            seen[key] = value
        assert torch.equal(y[row], expected)


def test_selective_copying_asks_for_the_data_tokens_in_order():
    probe = PROBES["selective_copying"]
    batch = probe.make_batch(3, 40, generator(1))
    for row in range(3):
        data = [t for t in batch.x[row, :32].tolist() if t < 16][:8]
        assert batch.y[row][batch.y[row] != IGNORE].tolist() == data


def test_memorization_answers_come_from_one_fixed_table():
    batch = PROBES["memorization"].make_batch(4, 30, generator(2))
    x, y = batch.x.view(4, -1, 3), batch.y.view(4, -1, 3)
    keys = x[:, :, 0] * N_TOKENS + x[:, :, 1]
    assert torch.equal(y[:, :, 1], TABLE[keys]) and torch.equal(x[:, :, 2], TABLE[keys])
    assert all(len(set(row.tolist())) == len(row) for row in keys)  # no key twice in a sequence


def test_noisy_recall_hides_noise_tokens_from_scoring():
    probe = PROBES["noisy_recall"]
    batch = probe.make_batch(4, 64, generator(0))
    noise = batch.x >= 16
    assert noise.any() and (batch.y[noise] == IGNORE).all()


def test_trainer_learns_a_probe_and_scores_it_reproducibly(gpt):
    cls, config = gpt
    cfg = ProbeConfig(steps=25, batch_size=4, test_size=16, seq_len=32)
    probe = PROBES["in_context_recall"]
    first = train_probe(cls, config, probe, cfg, seed=0)
    again = train_probe(cls, config, probe, cfg, seed=0)
    assert first.accuracy == again.accuracy and first.final_loss == again.final_loss
    # it learnt at least that answers are value tokens (8 of the 16): below the uniform loss
    assert first.final_loss < math.log(probe.vocab_size) - 0.3
    assert 0 <= first.accuracy <= 1 and first.stderr >= 0 and first.n_sequences == 16


def test_run_probes_runs_every_probe_including_the_compression_decoder(gpt):
    cls, config = gpt
    results = run_probes(cls, config, TINY)
    assert list(results) == list(PROBES)
    assert results["compression"].n_targets == 8 * PROBES["compression"].decoder_len
    with pytest.raises(KeyError, match="unknown probe"):
        run_probes(cls, config, TINY, names=["no_such_probe"])


class _NaNBlock(torch.nn.Module):
    def __init__(self, embed_dim, block_loc, device=None, dtype=None, **kwargs):
        super().__init__()
        self.proj = torch.nn.Linear(embed_dim, embed_dim, device=device, dtype=dtype)

    def forward(self, X, **Z):
        return X + self.proj(X) * float("nan"), Z


class _RaisingBlock(_NaNBlock):
    def forward(self, X, **Z):
        raise ValueError("broken unit")


def test_a_design_that_breaks_fails_the_probe_with_a_category():
    with pytest.raises(ProbeFailure) as nan:
        train_probe(_NaNBlock, {}, PROBES["in_context_recall"], TINY)
    assert nan.value.category == "nan_inf" and nan.value.step == 0
    with pytest.raises(ProbeFailure) as err:
        train_probe(_RaisingBlock, {}, PROBES["in_context_recall"], TINY)
    assert err.value.category == "runtime_error" and "broken unit" in str(err.value)
