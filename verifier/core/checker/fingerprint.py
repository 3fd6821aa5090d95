"""The behavioural fingerprint of a design: what its model computes, not how its code is spelled.

Two trees can differ in every name and line (so in their content hash) and still compute the same
function: GPT's block with RetNet's retention and MLP swapped in is RetNet. Such functional clones
waste verification budget, so the check report carries a fingerprint the evolution loop compares.

It is computed inside the sandboxed child only (it runs the design's forward pass), on the model as
built by the init stage (seeded with the checker's seed, at the checker's shape), before any
training step: one eval-mode forward pass on token ids drawn from a generator seeded with the same
seed (not from the training text, so it does not depend on which corpus the machine has). The hash
covers the fingerprint's version, the shape it was taken at, every parameter's shape (in module
order, without names) and the logits rounded to `DIGITS` significant digits. Same machine, same
torch, same thread count: the same number. Exact clones make bit-identical floating-point
operations, so rounding does not separate them; it absorbs nothing a real change would not exceed.
"""

from __future__ import annotations

import hashlib
import json

import torch

VERSION = "fp1"
DIGITS = 6  # significant digits of each logit that enter the hash
BATCH = 2  # sequences of the fixed input (the checker's seq_len each)


def fixed_input(vocab_size: int, seq_len: int, seed: int) -> torch.Tensor:
    """BATCH sequences of token ids that depend only on the seed and the shape."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (BATCH, seq_len), generator=generator)


def rounded_text(values: torch.Tensor, digits: int = DIGITS) -> bytes:
    """The values as text, each to `digits` significant digits (-0 written as 0), one per line."""
    flat = values.detach().double().flatten().tolist()
    return "\n".join(f"{v + 0.0:.{digits - 1}e}" for v in flat).encode()


def digest(shape: dict[str, int], parameter_shapes: list[list[int]], logits: torch.Tensor) -> str:
    """`fp1:` and the sha256 of the shape, the parameter shapes and the rounded logits."""
    head = json.dumps({"version": VERSION, "digits": DIGITS, "shape": shape, "parameters": parameter_shapes},
                      sort_keys=True).encode()
    h = hashlib.sha256(head)
    h.update(b"\0")
    h.update(rounded_text(logits))
    return f"{VERSION}:{h.hexdigest()}"


def fingerprint(model: torch.nn.Module, *, vocab_size: int, seq_len: int, d_model: int, n_block: int,
                seed: int) -> str:
    """The fingerprint of `model` as built (call before any training step; runs design code)."""
    ids = fixed_input(vocab_size, seq_len, seed)
    was_training = model.training
    model.eval()
    try:
        torch.manual_seed(seed)  # any sampling in eval mode repeats exactly
        with torch.no_grad():
            logits = model(ids).logits.float()
    finally:
        model.train(was_training)
    shape = {"vocab_size": vocab_size, "seq_len": seq_len, "d_model": d_model, "n_block": n_block,
             "seed": seed, "batch": BATCH}
    parameters = [list(p.shape) for p in model.parameters()]
    return digest(shape, parameters, logits)
