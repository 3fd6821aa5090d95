"""Training checkpoints (resume after an interruption) and final weights (safetensors).

A checkpoint holds everything the next step depends on: weights, optimizer moments, the step,
RNG states, the monitor's running statistics and the loss curve so far. It is written to a
temporary file and renamed, so a run killed mid-write leaves the previous checkpoint intact. A
`fingerprint` of the run's settings guards against resuming a different run from the same folder.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

CHECKPOINT_NAME = "checkpoint.pt"
WEIGHTS_NAME = "model.safetensors"


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int,
                    fingerprint: str, extra: dict[str, Any]) -> None:
    """Write the state after `step` optimizer steps atomically."""
    payload = {"step": step, "fingerprint": fingerprint, "model": model.state_dict(),
               "optimizer": optimizer.state_dict(), "rng": rng_state(), "extra": extra}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, fingerprint: str, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The checkpoint at `path` if it belongs to this run (same fingerprint), else None."""
    if not path.exists():
        return None
    payload = torch.load(path, map_location=map_location, weights_only=False)
    if payload.get("fingerprint") != fingerprint:
        return None
    return payload


def save_weights(path: Path, model: nn.Module, metadata: dict[str, str] | None = None) -> None:
    """The trained weights as safetensors; a tied tensor (the LM head) is stored once and named as an
    alias in the metadata."""
    from safetensors.torch import save_file  # lazy

    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    owner: dict[tuple, str] = {}
    for name, tensor in model.state_dict().items():
        ident = (tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        if tensor.numel() > 0 and ident in owner:
            aliases[name] = owner[ident]
            continue
        owner[ident] = name
        tensors[name] = tensor.detach().to("cpu").contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={**(metadata or {}), "aliases": json.dumps(aliases)})


def load_weights(path: Path, model: nn.Module) -> None:
    from safetensors import safe_open  # lazy
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as fh:
        aliases = json.loads((fh.metadata() or {}).get("aliases", "{}"))
    tensors = load_file(str(path))
    for name, original in aliases.items():
        tensors[name] = tensors[original]
    model.load_state_dict(tensors, strict=True)
