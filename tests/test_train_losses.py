"""Chunked linear cross-entropy gives the same loss and gradients as the plain full-logits path."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from verifier.core.gau import compose, load_gab
from verifier.core.seeds import load_seed
from verifier.core.train.autotune import build_model
from verifier.core.train.losses import (
    chunk_step_functional,
    chunk_step_inplace,
    final_hidden,
    linear_cross_entropy,
    lm_loss,
)


def test_chunked_loss_and_gradients_match_full_logits():
    gen = torch.Generator().manual_seed(0)
    n, d, vocab = 50, 16, 97
    hidden = torch.randn(n, d, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(vocab, d, generator=gen, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, vocab, (n,), generator=gen)
    targets[[3, 17, 40]] = -100  # ignored positions

    ref = F.cross_entropy(hidden @ weight.t(), targets, ignore_index=-100)
    ref_gh, ref_gw = torch.autograd.grad(ref, (hidden, weight))
    # chunk_bytes small enough for several chunks of 7 rows
    loss = linear_cross_entropy(hidden, weight, targets, chunk_bytes=7 * 4 * vocab)
    gh, gw = torch.autograd.grad(loss * 2.0, (hidden, weight))  # the upstream gradient is honoured
    assert torch.allclose(loss, ref)
    assert torch.allclose(gh, 2 * ref_gh) and torch.allclose(gw, 2 * ref_gw)
    assert gh[[3, 17, 40]].abs().max() == 0

    with torch.no_grad():  # evaluation path: no gradient work
        assert torch.allclose(linear_cross_entropy(hidden, weight, targets, chunk_bytes=7 * 4 * vocab), ref)


def test_lm_loss_matches_the_models_own_loss_and_gradients():
    gab, config = load_gab(compose(load_seed("gpt")), "gpt")
    torch.manual_seed(0)
    model = build_model(gab, config, vocab_size=300, d_model=32, n_block=2, context_length=24)
    ids = torch.randint(0, 300, (3, 24))

    # final_hidden must stay in step with GenesysLM.forward (the head applied to it gives the logits)
    with torch.no_grad():
        logits = model.lm_head(final_hidden(model, ids))[..., :300]
        assert torch.allclose(logits, model(ids).logits, atol=1e-6)

    plain = lm_loss(model, ids, chunked=False)
    plain.backward()
    ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    chunked = lm_loss(model, ids, chunked=True, chunk_bytes=4 * 4 * 300)
    chunked.backward()
    assert torch.allclose(chunked, plain, atol=1e-6)
    for name, param in model.named_parameters():
        assert torch.allclose(param.grad, ref[name], atol=1e-6), name


def test_the_gpu_chunk_kernel_computes_what_the_cpu_one_does():
    gen = torch.Generator().manual_seed(1)
    h, w = torch.randn(9, 8, generator=gen), torch.randn(40, 8, generator=gen)
    t = torch.randint(0, 40, (9,), generator=gen)
    ok = torch.ones(9, dtype=torch.bool)
    ok[4] = False
    a = chunk_step_inplace(h, w, t, ok, 1 / 8, torch.float32)
    b = chunk_step_functional(h, w, t, ok, 1 / 8)
    for x, y in zip(a, b, strict=True):
        assert torch.allclose(x, y, atol=1e-6)
