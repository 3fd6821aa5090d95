"""What of a verification child's progress line may be stored and shown.

The line comes from the design's sandboxed child, so it is untrusted: only known fields of the
expected types pass, strings are clipped at a word, the per-task evaluation counts are bounded in
number and kept consistent (0 <= done <= total). Events are "phase" (a named stage starts: data,
size, train, validate, eval, probes), "step" (training), "eval" (lm-eval requests scored per task)
and "done"; `THROTTLED` are the frequent ones the worker sends on at most every few seconds.
"""

from __future__ import annotations

import math
from typing import Any

from evolution.core.clip import clip

THROTTLED = ("step", "eval")
NUMBERS = ("step", "total_steps", "loss", "tokens_per_s", "mfu", "eta_s", "done", "total")
TEXTS = {"phase": 40, "message": 300, "kind": 20}
MAX_TASKS = 32


def progress_payload(event: Any) -> dict[str, Any]:
    """The fields of one progress line worth keeping; {} for anything that is not a progress line."""
    if not isinstance(event, dict):
        return {}
    out: dict[str, Any] = {}
    for key in NUMBERS:
        value = event.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[key] = value
    for key, limit in TEXTS.items():
        value = event.get("event" if key == "kind" else key)
        if isinstance(value, str) and value.strip():
            out[key] = clip(value, limit)
    tasks = event.get("tasks")
    if isinstance(tasks, dict):
        clean = {}
        for name, counts in list(tasks.items())[:MAX_TASKS]:
            if (isinstance(name, str) and isinstance(counts, (list, tuple)) and len(counts) == 2
                    and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)):
                total = counts[1]
                clean[clip(name, 60)] = [min(counts[0], total), total]
        if clean:
            out["tasks"] = clean
    if "done" in out and "total" in out:
        out["done"] = max(0, min(out["done"], out["total"]))
    return out
