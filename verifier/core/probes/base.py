"""What every probe is made of: a task (token sequences with scored targets) and its settings.

A probe is a synthetic sequence task in the manner of MAD (Poli et al. 2024) and Zoology's
multi-query associative recall: it isolates one capability (recall from context, copying,
compression, memorisation) so that a tiny model trained for a few hundred steps already shows
whether a block has it. Sequences are generated on the fly from a fixed seed; the test set is
drawn once from its own seed, so every design is scored on the same examples.

`x` holds input tokens, `y` the target at each position (-100: not scored). The model predicts
`y[t]` from `x[: t + 1]`, so a causal LM is trained with plain cross-entropy on (x, y).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch

IGNORE = -100


@dataclass(frozen=True)
class ProbeConfig:
    """Model and training settings shared by the probes (a task may override its own fields)."""

    d_model: int = 64
    n_block: int = 2
    steps: int = 250
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.0
    warmup_steps: int = 10
    grad_clip: float = 1.0
    test_size: int = 256  # test sequences
    seq_len: int = 64  # tokens per sequence (tasks lay out their content to fill it)
    test_seed: int = 10_000  # the test set's seed (independent of the training seed)

    def with_overrides(self, **changes: Any) -> ProbeConfig:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class ProbeBatch:
    x: torch.Tensor  # (batch, seq) long
    y: torch.Tensor  # (batch, seq) long, IGNORE where not scored


@dataclass(frozen=True)
class Probe:
    """One capability probe: how to make a batch, how big its vocabulary is, what chance is."""

    name: str
    description: str
    vocab_size: int
    chance: float  # accuracy of guessing uniformly among the possible answers
    make_batch: Callable[[int, int, torch.Generator], ProbeBatch]  # (batch_size, seq_len, generator)
    settings: dict[str, Any] = field(default_factory=dict)  # overrides of ProbeConfig for this task
    decoder_len: int = 0  # >0: the answer is decoded from the last position (compression)


def generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randint(low: int, high: int, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    return torch.randint(low, high, shape, generator=g)


def random_permutations(n_rows: int, n: int, g: torch.Generator) -> torch.Tensor:
    """`n_rows` independent permutations of range(n)."""
    return torch.argsort(torch.rand(n_rows, n, generator=g), dim=1)
