"""The mixing stage: a language-model block must carry information across positions.

A design whose token mixer was swapped for a per-position MLP is causal, trains and is fast, so every
other stage passes it, yet the model can only ever predict the next token from the current one. Here
the tokens before t are changed (every one of them) and the output at t must move, for every tested
t > 0; an output that does not move at all (exact zero difference) means no unit reads earlier
positions. Runs inside the sandboxed child, in eval mode like causality, on the model `init` built.
"""

from __future__ import annotations

import torch

from .categories import ERROR, FORWARD_ERROR, NO_MIXING

STAGE = "mixing"


def mixing_positions(seq_len: int) -> list[int]:
    """Positions t > 0 to test: the first ones (a one-token history) and a spread over the window."""
    wanted = {1, 2, seq_len // 4, seq_len // 2, seq_len - 1}
    return sorted(t for t in wanted if 0 < t < seq_len)


def check_mixing(checks) -> bool:
    """`checks` is the child's RuntimeChecks after `init`: its model, batches and reporting."""
    assert checks.model is not None
    checks.model.eval()
    ids = checks.batch(checks.cfg.causality_batch)
    V = checks.cfg.vocab_size
    try:
        base = checks._eval_logits(ids)
        deaf: list[int] = []
        positions = mixing_positions(ids.shape[1])
        for t in positions:
            perturbed = ids.clone()
            shift = torch.randint(1, V, perturbed[:, :t].shape, generator=checks.generator)
            perturbed[:, :t] = (perturbed[:, :t] + shift) % V  # every earlier token changes
            moved = (checks._eval_logits(perturbed)[:, t] - base[:, t]).abs().max()
            if float(moved) == 0.0:
                deaf.append(t)
    except Exception as exc:
        checks.exception(exc, FORWARD_ERROR, STAGE)
        return False
    checks.figure(mixing_positions_tested=len(positions), mixing_deaf_positions=len(deaf))
    if not deaf:
        return True
    shown = ", ".join(str(t) for t in deaf)
    checks.finding(
        NO_MIXING,
        ERROR,
        f"the block does not mix information across positions: the output at position(s) {shown} "
        "is exactly the same when every earlier token changes, so the model predicts each next token "
        "from the current token alone (a token mixer was lost, e.g. swapped for a per-position MLP)",
        STAGE,
    )
    return False
