"""The trainer: resume after an interruption, out-of-memory handling, the monitor inside a run,
and the auto-tuner's parameter window."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from verifier.core.gau import compose, load_gab
from verifier.core.seeds import available_seeds, load_seed
from verifier.core.train.autotune import (
    build_model,
    fit_to_rung,
    memory_cap,
    param_counter,
    plan_batch,
    probe_micro_batch,
)
from verifier.core.train.checkpoint import CHECKPOINT_NAME, load_weights, save_weights
from verifier.core.train.data import PackedSequences
from verifier.core.train.ladder import LADDER, get_rung
from verifier.core.train.losses import lm_loss
from verifier.core.train.monitor import RuntimeMonitor
from verifier.core.train.trainer import Trainer, TrainSettings

VOCAB, SEQ = 128, 32
CPU = torch.device("cpu")


def gpt():
    return load_gab(compose(load_seed("gpt")), "gpt")


def synthetic_tokens(n: int = 40_000, seed: int = 0) -> np.ndarray:
    """A learnable stream: noisy arithmetic progressions, so the loss falls quickly."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, VOCAB, n // 8)
    steps = rng.integers(1, 4, n // 8)
    seqs = (starts[:, None] + steps[:, None] * np.arange(8)) % VOCAB
    return seqs.reshape(-1).astype(np.uint16)


def make_trainer(tmp_path=None, steps: int = 12, seed: int = 0, **overrides) -> Trainer:
    gab, config = gpt()
    torch.manual_seed(seed)
    model = build_model(gab, config, VOCAB, d_model=32, n_block=2, context_length=SEQ)
    options = {"batch_seqs": 8, "seq_len": SEQ, "lr": 3e-3, "seed": seed, "show_bar": False, **overrides}
    settings = TrainSettings(total_steps=steps, **options)
    path = tmp_path / CHECKPOINT_NAME if tmp_path is not None else None
    return Trainer(model, PackedSequences(synthetic_tokens(), SEQ), settings, CPU, path, fingerprint="run-a")


def losses(result) -> list[float]:
    return [p["loss"] for p in result.loss_curve]


def test_training_lowers_the_loss_and_reports_throughput():
    result = make_trainer(steps=30).run()
    assert result.failure is None and result.steps_done == 30
    curve = losses(result)
    assert np.mean(curve[-5:]) < curve[0] - 0.5
    assert result.tokens_seen == 30 * 8 * SEQ
    assert result.tokens_per_s and result.tokens_per_s > 0
    assert result.flops_per_token and result.flops_per_token > 6 * 32 * 32 * 2 * 8  # at least 6N-ish
    assert result.mfu is None  # no known peak on a CPU
    assert result.peak_memory_bytes > 0


def test_resume_after_interruption_ends_at_the_same_loss(tmp_path):
    steps = 16
    full = make_trainer(steps=steps).run()
    # Killed after step 11 with checkpoints every 5 steps: the rerun resumes from step 10.
    first = make_trainer(tmp_path, steps=steps, checkpoint_every_steps=5, stop_after_step=11).run()
    assert first.interrupted and first.steps_done == 11
    assert (tmp_path / CHECKPOINT_NAME).exists()
    second = make_trainer(tmp_path, steps=steps, seed=0, checkpoint_every_steps=5).run()
    assert second.resumed_from_step == 10
    assert second.steps_done == steps and not second.interrupted
    assert losses(second)[:10] == losses(full)[:10]  # the curve before the checkpoint is kept
    assert np.allclose(losses(second), losses(full), atol=1e-4)
    assert abs(losses(second)[-1] - losses(full)[-1]) < 1e-4


def test_compiled_body_trains_what_the_eager_one_does():
    # The "eager" backend runs dynamo's tracing without code generation: the compiled code path of
    # the trainer (probe, FLOP count, steps) at a fraction of inductor's start-up time.
    eager = make_trainer(steps=3).run()
    compiled = make_trainer(steps=3, compile=True, compile_backend="eager").run()
    assert compiled.compiled and compiled.warnings == [] and compiled.failure is None
    assert np.allclose(losses(compiled), losses(eager), atol=1e-5)


def test_checkpoint_of_another_run_is_not_resumed(tmp_path):
    make_trainer(tmp_path, steps=8, checkpoint_every_steps=2, stop_after_step=5).run()
    other = make_trainer(tmp_path, steps=8)
    other.fingerprint = "run-b"
    result = other.run()
    assert result.resumed_from_step is None and result.steps_done == 8


def test_memory_cap_simulates_out_of_memory():
    gab, config = gpt()
    model = build_model(gab, config, VOCAB, 32, 2, SEQ)
    ids = torch.randint(0, VOCAB, (8, SEQ))
    with memory_cap(10**9):
        model(ids, labels=ids).loss.backward()
    with pytest.raises(torch.OutOfMemoryError), memory_cap(10_000):
        model(ids, labels=ids).loss.backward()


def test_out_of_memory_halves_the_micro_batch_and_keeps_the_batch():
    tried = []

    def try_step(micro_batch: int) -> None:
        tried.append(micro_batch)
        if micro_batch > 3:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    plan = probe_micro_batch(plan_batch(16), try_step)
    assert tried == [16, 8, 4, 2]
    assert (plan.micro_batch, plan.grad_accum, plan.tried) == (2, 8, [16, 8, 4])

    # With a real (simulated) cap the trainer picks a smaller micro-batch, accumulates gradients,
    # and trains exactly what the uncapped run trains. The cap: half of what 8 sequences save for
    # the backward pass, so 8 and 4 do not fit and a smaller micro-batch does.
    free = make_trainer(steps=6).run()
    cap = saved_bytes(make_trainer().model, 8) // 2
    capped = make_trainer(steps=6, memory_cap_bytes=cap).run()
    assert capped.failure is None
    assert capped.micro_batch in (1, 2) and capped.micro_batch * capped.grad_accum == 8
    assert capped.oom_micro_batches[:2] == [8, 4]
    assert np.allclose(losses(capped), losses(free), atol=1e-5)


def saved_bytes(model, n_seqs: int) -> int:
    """Bytes autograd saves for the backward pass of `n_seqs` sequences (what memory_cap counts)."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    ids = torch.randint(0, VOCAB, (n_seqs, SEQ))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        lm_loss(model, ids)
    return total


def test_out_of_memory_at_one_sequence_is_a_failure():
    result = make_trainer(steps=4, memory_cap_bytes=1000).run()
    assert result.failure is not None and result.failure.category == "oom"
    assert result.steps_done == 0


def test_monitor_stops_a_run_inside_the_trainer():
    trainer = make_trainer(steps=40)
    trainer.monitor = RuntimeMonitor(step_time_limit_s=1e-6, time_window=3, skip_first_steps=1)
    result = trainer.run()
    assert result.failure is not None and result.failure.category == "too_slow"
    assert result.steps_done == 4  # one untimed step, then a full window of three

    trainer = make_trainer(steps=40, lr=1e6)  # an absurd learning rate: the loss must blow up
    trainer.s.grad_clip = 1e9
    result = trainer.run()
    assert result.failure is not None
    assert result.failure.category in {"nan_inf", "loss_explosion", "loss_divergence", "grad_explosion"}
    assert result.steps_done < 40


def test_weights_round_trip_through_safetensors(tmp_path):
    trainer = make_trainer(steps=3)
    trainer.run()
    save_weights(tmp_path / "w.safetensors", trainer.model)
    gab, config = gpt()
    again = build_model(gab, config, VOCAB, 32, 2, SEQ)
    load_weights(tmp_path / "w.safetensors", again)
    assert again.lm_head.weight is again.embedding.weight  # still tied
    ids = torch.randint(0, VOCAB, (2, SEQ))
    with torch.no_grad():
        assert torch.equal(again.eval()(ids).logits, trainer.model.eval()(ids).logits)


@pytest.mark.parametrize("rung", ["test", "micro", "tiny", "14M", "125M", "350M"])
def test_auto_tuner_fits_gpt_into_each_rungs_window(rung):
    gab, config = gpt()
    r = get_rung(rung)
    size = fit_to_rung(gab, config, r, vocab_size=32000)
    assert abs(size.params - r.target_params) <= r.size_tolerance * r.target_params
    assert size.params == param_counter(gab, config, 32000, r.context_length)(size.d_model, size.n_block)


def test_auto_tuner_reshapes_a_design_that_is_too_big_at_the_reference_shape():
    gab, config = gpt()
    wide = {**config, "mlp_hidden_ratio": 12}  # ~3x the parameters per block
    rung = LADDER["31M"]
    count = param_counter(gab, wide, 32000, rung.context_length)
    assert count(rung.d_model, rung.n_block) > 1.2 * rung.target_params
    size = fit_to_rung(gab, wide, rung, 32000)
    assert (size.d_model, size.n_block) != (rung.d_model, rung.n_block)
    assert abs(size.ratio - 1) <= rung.size_tolerance


def test_auto_tuner_does_not_widen_a_design_past_four_times_the_rungs_width():
    """Mamba-2 with its mixer swapped for TTT's bare convolution (a GP design of the fresh set) has
    about 1/100 of a block's parameters: the target lies at 22x the screen's width, another
    experiment. It fails sizing, with the reason, instead of running for hours."""
    from verifier.core.gau.operators import mutate
    from verifier.core.sizing import MAX_WIDTH_FACTOR, SizingError

    starved = mutate(load_seed("mamba2"), "Mamba2Layer", load_seed("ttt"), "Conv")
    gab, config = load_gab(compose(starved), starved.name)
    rung = get_rung("screen")
    with pytest.raises(SizingError, match=rf"d_model may not go above {MAX_WIDTH_FACTOR * rung.d_model}"):
        fit_to_rung(gab, config, rung, vocab_size=32000)


@pytest.mark.parametrize("name", available_seeds())
@pytest.mark.parametrize("rung", ["micro", "14M"])
def test_auto_tuner_fits_every_seed(name, rung):
    gab, config = load_gab(compose(load_seed(name)), name)
    r = get_rung(rung)
    size = fit_to_rung(gab, config, r, vocab_size=32000)
    assert math.isclose(size.params, r.target_params, rel_tol=r.size_tolerance)


def test_a_prefix_run_trains_the_first_steps_of_the_longer_run():
    """`schedule_steps` longer than `total_steps`: the run is the longer run's first steps, learning
    rates and losses alike (the screen rung is tiny cut short, without an early anneal)."""
    full = make_trainer(steps=16).run()
    prefix = make_trainer(steps=6, schedule_steps=16).run()
    annealed = make_trainer(steps=6).run()
    assert prefix.steps_done == 6 and prefix.failure is None
    lrs = {p["step"]: p["lr"] for p in full.loss_curve}
    assert [p["lr"] for p in prefix.loss_curve] == [lrs[p["step"]] for p in prefix.loss_curve]
    assert np.allclose(losses(prefix), [p["loss"] for p in full.loss_curve if p["step"] <= 6], atol=1e-5)
    assert annealed.loss_curve[-1]["lr"] < prefix.loss_curve[-1]["lr"]  # its own schedule decays by step 6
