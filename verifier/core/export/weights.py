"""The verifier's safetensors, re-written the way Hugging Face loads them.

The verifier stores a tied tensor once and names its aliases in the metadata; transformers wants
`{"format": "pt"}` in the metadata and re-ties the head itself (`_tied_weights_keys`). The tensors
are copied byte for byte; nothing is instantiated.
"""

from __future__ import annotations

import json
from pathlib import Path

HF_WEIGHTS_NAME = "model.safetensors"
TIED_HEAD = "lm_head.weight"


def read_weights(path: Path) -> tuple[dict, dict[str, str]]:
    """(tensors, metadata) of a verifier weights file."""
    from safetensors import safe_open  # lazy

    tensors = {}
    with safe_open(str(path), framework="pt") as fh:
        metadata = dict(fh.metadata() or {})
        for name in fh.keys():  # noqa: SIM118 - safe_open is not a mapping
            tensors[name] = fh.get_tensor(name)
    return tensors, metadata


def export_weights(source: Path, target: Path, extra_metadata: dict[str, str] | None = None) -> dict[str, int]:
    """Write `source` (verifier format) as `target` (HF format); returns {tensor name: elements}."""
    from safetensors.torch import save_file  # lazy

    tensors, metadata = read_weights(source)
    aliases = json.loads(metadata.pop("aliases", "{}"))
    for name, original in aliases.items():
        if name != TIED_HEAD:  # a design's own shared tensor: stored under both names
            tensors[name] = tensors[original].clone()
    tensors.pop(TIED_HEAD, None)  # re-tied to embedding.weight on load
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(target),
              metadata={**metadata, **(extra_metadata or {}), "format": "pt"})
    return {k: int(v.numel()) for k, v in tensors.items()}
