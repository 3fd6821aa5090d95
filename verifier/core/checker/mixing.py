"""The mixing stage: a language-model block must carry information across positions.

A design whose token mixer was swapped for a per-position MLP is causal, trains and is fast, so every
other stage passes it, yet the model can only ever predict the next token from the current one. Here
the tokens before t are changed (every one of them) and the output at t must move, for every tested
t > 0; an output that does not move at all (exact zero difference) means no unit reads earlier
positions. Runs inside the sandboxed child, in eval mode like causality, on the model `init` built.

Mixing is a property of the architecture, not of the initial weights: a token mixer whose output
projection starts at zero (a common init) reads earlier positions as soon as it trains. So a position
that looks deaf at init is probed again with every parameter nudged by a little noise (buffers such
as causal masks untouched), and only a position deaf at both points fails. The weights are restored.

On the way it measures which units mix positions (figure `mixing_units`): a unit call whose inputs at
t are unchanged while its output at t moves reads earlier positions. A unit fed by one that already
mixed cannot be judged this way and is not listed. This is the runtime side of the roles in
`gau/roles.py`, measured where generated code may run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .categories import ERROR, FORWARD_ERROR, NO_MIXING

STAGE = "mixing"


def mixing_positions(seq_len: int) -> list[int]:
    """Positions t > 0 to test: the first ones (a one-token history) and a spread over the window."""
    wanted = {1, 2, seq_len // 4, seq_len // 2, seq_len - 1}
    return sorted(t for t in wanted if 0 < t < seq_len)


NOISE = 0.02  # added to every parameter for the second probe


def deaf_positions(checks, ids: torch.Tensor, positions: list[int]) -> list[int]:
    """Positions t whose logits do not move at all when every token before t changes."""
    V = checks.cfg.vocab_size
    base = checks._eval_logits(ids)
    deaf = []
    for t in positions:
        perturbed = ids.clone()
        shift = torch.randint(1, V, perturbed[:, :t].shape, generator=checks.generator)
        perturbed[:, :t] = (perturbed[:, :t] + shift) % V  # every earlier token changes
        moved = (checks._eval_logits(perturbed)[:, t] - base[:, t]).abs().max()
        if float(moved) == 0.0:
            deaf.append(t)
    return deaf


@contextmanager
def nudged_parameters(model: torch.nn.Module, generator: torch.Generator) -> Iterator[None]:
    """Every floating parameter plus N(0, NOISE^2) noise inside the block, restored afterwards."""
    saved = [(p, p.detach().clone()) for p in model.parameters() if p.is_floating_point()]
    try:
        with torch.no_grad():
            for p, _ in saved:
                p.add_(torch.randn(p.shape, generator=generator).to(p.dtype) * NOISE)
        yield
    finally:
        with torch.no_grad():
            for p, value in saved:
                p.copy_(value)


def mixing_units(checks, ids: torch.Tensor, t: int) -> list[str]:
    """Units (class names, first call first) whose output at t moves when only earlier tokens change
    while their own inputs at t stay the same: the units that read earlier positions."""
    perturbed = ids.clone()
    shift = torch.randint(1, checks.cfg.vocab_size, perturbed[:, :t].shape, generator=checks.generator)
    perturbed[:, :t] = (perturbed[:, :t] + shift) % checks.cfg.vocab_size
    names: list[str] = []
    for (name, in_a, out_a), (_, in_b, out_b) in zip(
        checks._trace_units(ids), checks._trace_units(perturbed), strict=False
    ):
        pairs_in = list(zip(in_a, in_b, strict=False))
        pairs_out = list(zip(out_a, out_b, strict=False))
        if any(x.shape != y.shape for x, y in pairs_in + pairs_out) or not pairs_out:
            continue
        if all(torch.equal(x[:, t], y[:, t]) for x, y in pairs_in) and not all(
            torch.equal(x[:, t], y[:, t]) for x, y in pairs_out
        ) and name not in names:
            names.append(name)
    return names


def check_mixing(checks) -> bool:
    """`checks` is the child's RuntimeChecks after `init`: its model, batches and reporting."""
    assert checks.model is not None
    checks.model.eval()
    ids = checks.batch(checks.cfg.causality_batch)
    positions = mixing_positions(ids.shape[1])
    try:
        deaf = deaf_positions(checks, ids, positions)
        if deaf:
            with nudged_parameters(checks.model, checks.generator):
                deaf = deaf_positions(checks, ids, deaf)
    except Exception as exc:
        checks.exception(exc, FORWARD_ERROR, STAGE)
        return False
    checks.figure(mixing_positions_tested=len(positions), mixing_deaf_positions=len(deaf))
    if not deaf:
        try:
            checks.figure(mixing_units=mixing_units(checks, ids, ids.shape[1] // 2))
        except Exception:  # informative only: a design that breaks the hooks still mixes
            pass
        return True
    shown = ", ".join(str(t) for t in deaf)
    checks.finding(
        NO_MIXING,
        ERROR,
        f"the block does not mix information across positions: the output at position(s) {shown} "
        "is exactly the same when every earlier token changes (at init and with the weights nudged): "
        "either no unit reads earlier positions (e.g. a token mixer swapped for a per-position MLP) or "
        "what it reads is too small to change the output in float32 (e.g. a mixer fed a vanishing, "
        "unnormalised input), so the model predicts each next token from the current token alone",
        STAGE,
    )
    return False
