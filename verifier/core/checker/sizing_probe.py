"""The size tuner inside the sandbox: counting a design's parameters means building it, which runs
its code, so the search of `verifier.core.sizing` runs in the child. Models are built on the meta
device (no memory is allocated), falling back to real tensors for designs that need them at init.
"""

from __future__ import annotations

from typing import Any

import torch

from ..sizing import SizingError, tune_size
from .runtime_checks import RuntimeChecks


def tune(checks: RuntimeChecks, request: dict[str, Any]) -> None:
    if not checks.load():
        return

    def count(d_model: int, n_block: int) -> int:
        try:
            with torch.device("meta"):
                model = checks.build(d_model, n_block)
        except Exception:
            model = checks.build(d_model, n_block)
        return model.num_params(non_embedding=True)

    try:
        result = tune_size(
            count,
            int(request["target"]),
            int(request["d_model"]),
            int(request["n_block"]),
            tolerance=float(request.get("tolerance", 0.2)),
            min_d_model=int(request.get("min_d_model", 64)),
        )
    except SizingError as exc:
        checks.send({"event": "size", "error": str(exc)})
        return
    except Exception as exc:
        checks.exception(exc, "init-error", "size", shapes=False)
        return
    checks.send(
        {
            "event": "size",
            "d_model": result.d_model,
            "n_block": result.n_block,
            "params": result.params,
            "target": result.target,
            "tried": result.tried,
        }
    )
