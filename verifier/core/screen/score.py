"""The screen's score from its raw components, recomputed by whoever trusts it (the parent process).

Interface (stable): `screen_score(components) -> (score, stderr)`, higher is better. `components`
maps a component name to `{"value": float, "stderr": float | None, "weight": float}` where `value`
is already oriented so that higher is better. The score is the weighted mean of the values and its
stderr assumes independent components.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def screen_score(components: Mapping[str, Mapping[str, Any]]) -> tuple[float | None, float | None]:
    """(weighted mean of the component values, its standard error); (None, None) with no usable value."""
    total_w = 0.0
    acc = 0.0
    var = 0.0
    for comp in components.values():
        value = comp.get("value")
        weight = float(comp.get("weight", 1.0) or 0.0)
        if not isinstance(value, (int, float)) or not math.isfinite(value) or weight <= 0:
            continue
        total_w += weight
        acc += weight * float(value)
        stderr = comp.get("stderr")
        if isinstance(stderr, (int, float)) and math.isfinite(stderr):
            var += (weight * float(stderr)) ** 2
    if total_w == 0:
        return None, None
    return acc / total_w, math.sqrt(var) / total_w
