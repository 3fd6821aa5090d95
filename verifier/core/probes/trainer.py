"""The probes' shared small trainer: one GenesysLM per probe, trained from scratch, scored on a
fixed test set as accuracy on the scored positions.

Every design gets the same width, depth, steps and data (MAD fixes the shape rather than the
parameter count, so a probe compares what a block does with a given width). A design that raises
or produces a non-finite loss fails the probe with a category from the runtime monitor's list.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..model import GenesysLM
from ..train.autotune import build_model
from .base import IGNORE, Probe, ProbeConfig, generator


class ProbeFailure(RuntimeError):
    """A probe could not be trained: `category` is one of the runtime monitor's categories."""

    def __init__(self, category: str, message: str, probe: str, step: int | None = None):
        super().__init__(message)
        self.category, self.probe, self.step = category, probe, step


@dataclass
class ProbeResult:
    name: str
    accuracy: float  # over scored test positions
    stderr: float  # of the accuracy, from the per-sequence accuracies
    chance: float
    n_sequences: int
    n_targets: int
    final_loss: float
    steps: int
    seconds: float
    params: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def normalized(self) -> float:
        """Accuracy above chance as a fraction of the possible gain: 0 at chance, 1 when perfect."""
        return (self.accuracy - self.chance) / (1.0 - self.chance)

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "stderr": self.stderr, "chance": self.chance,
                "n_sequences": self.n_sequences, "n_targets": self.n_targets, "final_loss": self.final_loss,
                "steps": self.steps, "seconds": round(self.seconds, 3), "params": self.params, **self.extra}


class Decoder(nn.Module):
    """Compression's read-out: token i of the sequence from (the last hidden state, position i)."""

    def __init__(self, d_model: int, length: int, vocab: int):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(length, d_model) * 0.02)
        self.mlp = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, vocab))

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (batch, d) -> (batch, length, vocab)
        return self.mlp(h[:, None, :] + self.pos[None])


class ProbeModel(nn.Module):
    """The LM, plus compression's decoder when the probe needs one; logits aligned with targets."""

    def __init__(self, lm: GenesysLM, probe: Probe):
        super().__init__()
        self.lm = lm
        self.vocab = probe.vocab_size
        self.decoder = Decoder(lm.config.d_model, probe.decoder_len, probe.vocab_size) if probe.decoder_len else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.decoder is None:
            return self.lm(x).logits[..., : self.vocab]
        return self.decoder(self.lm.hidden_states(x)[:, -1])


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1), ignore_index=IGNORE)


def _lr(step: int, cfg: ProbeConfig, steps: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def score(model: ProbeModel, probe: Probe, cfg: ProbeConfig) -> tuple[float, float, int, int]:
    """(accuracy, its stderr, sequences, scored targets) on the probe's fixed test set."""
    model.eval()
    batch = probe.make_batch(cfg.test_size, cfg.seq_len, generator(cfg.test_seed))
    correct_rows, count_rows = [], []
    for start in range(0, cfg.test_size, 64):
        x, y = batch.x[start:start + 64], batch.y[start:start + 64]
        pred = model(x).argmax(-1)
        mask = y != IGNORE
        correct_rows.append(((pred == y) & mask).sum(1).float())
        count_rows.append(mask.sum(1).float())
    model.train()
    correct, counts = torch.cat(correct_rows), torch.cat(count_rows)
    keep = counts > 0
    per_seq = correct[keep] / counts[keep]
    accuracy = float(correct.sum() / counts.sum().clamp(min=1))
    n = int(keep.sum())
    stderr = float(per_seq.std(unbiased=True) / math.sqrt(n)) if n > 1 else 0.0
    return accuracy, stderr, n, int(counts.sum())


def train_probe(gab_cls: type, gab_config: dict, probe: Probe, cfg: ProbeConfig, seed: int = 0) -> ProbeResult:
    """Train a fresh model on `probe` for `cfg.steps` steps and score it. Raises ProbeFailure."""
    cfg = cfg.with_overrides(**probe.settings)
    start = time.process_time()
    torch.manual_seed(seed)
    seq_len = cfg.seq_len + 1 if probe.decoder_len else cfg.seq_len
    try:
        lm = build_model(gab_cls, gab_config, probe.vocab_size, cfg.d_model, cfg.n_block, max(seq_len, 16))
        model = ProbeModel(lm, probe)
    except Exception as exc:  # noqa: BLE001 - the design cannot be built at the probe's shape
        raise ProbeFailure("design_error", f"{type(exc).__name__}: {exc}", probe.name) from exc
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    g = generator(seed * 1_000_003 + sum(map(ord, probe.name)))
    loss_value = math.nan
    for step in range(cfg.steps):
        batch = probe.make_batch(cfg.batch_size, cfg.seq_len, g)
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg, cfg.steps)
        try:
            loss = _loss(model(batch.x), batch.y)
            loss.backward()
        except Exception as exc:  # noqa: BLE001 - whatever the design raises fails this probe
            category = "oom" if isinstance(exc, torch.OutOfMemoryError) else "runtime_error"
            raise ProbeFailure(category, f"{type(exc).__name__}: {exc}", probe.name, step) from exc
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise ProbeFailure("nan_inf", f"probe {probe.name}: loss {loss_value} at step {step}", probe.name, step)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    try:
        accuracy, stderr, n_seq, n_targets = score(model, probe, cfg)
    except Exception as exc:  # noqa: BLE001
        raise ProbeFailure("runtime_error", f"{type(exc).__name__}: {exc}", probe.name, cfg.steps) from exc
    return ProbeResult(probe.name, accuracy, stderr, probe.chance, n_seq, n_targets, loss_value, cfg.steps,
                       time.process_time() - start, lm.num_params(non_embedding=True))
