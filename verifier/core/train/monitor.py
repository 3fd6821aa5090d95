"""Runtime monitor: stop a training run that has gone wrong, and say why in one category.

A design that diverges or crawls would otherwise burn its whole GPU budget before the report
says anything. Checked after every optimizer step:
- the loss is NaN/Inf                                  -> "nan_inf"
- the loss is above `max_loss` (1e4) or not positive   -> "loss_explosion"
- the smoothed loss is far above its running minimum   -> "loss_divergence"
- the gradient norm is NaN/Inf or above `max_grad_norm` -> "grad_explosion"
- the recent steps are slower than the rung's limit    -> "too_slow"
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

FAILURE_CATEGORIES = {
    "nan_inf": "the loss became NaN or infinite",
    "loss_explosion": "the loss left the plausible range",
    "loss_divergence": "the loss rose far above its best value",
    "grad_explosion": "the gradient norm exploded",
    "too_slow": "training steps were slower than the rung allows",
    "oom": "out of memory even at a micro-batch of one sequence",
    "design_error": "the design could not be built",
    "sizing": "no shape of the design fits the rung's parameter window",
    "runtime_error": "the design raised an error while training",
    "eval_error": "evaluation failed",
    "eval_unavailable": "evaluation cannot run here (lm-eval is not installed)",
    "data_missing": "verification has no data",
    "interrupted": "the run was interrupted",
    "sandbox_unavailable": "the sandbox cannot start here, so the design's code did not run",
    "report_invalid": "the sandboxed run's report is missing or does not match the run",
    "killed": "the sandboxed run was killed",
    "sandbox-violation": "the design tried something the sandbox refuses (a process, a socket, a file outside its folder)",
}


@dataclass
class Failure:
    category: str
    message: str
    step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "message": self.message, "step": self.step}


@dataclass
class RuntimeMonitor:
    step_time_limit_s: float | None = None
    max_loss: float = 1e4
    max_grad_norm: float = 1e4
    divergence_ratio: float = 1.5  # smoothed loss > ratio x its running minimum ...
    grace_steps: int = 10  # ... checked only after this many steps (warmup is noisy)
    ema_beta: float = 0.9
    time_window: int = 5  # the median of this many recent step times is compared with the limit
    skip_first_steps: int = 2  # the first steps compile and warm caches: not timed
    ema: float | None = None
    best_ema: float = math.inf
    steps_seen: int = 0
    recent_times: deque = field(default_factory=lambda: deque(maxlen=5))

    def check(self, step: int, loss: float, grad_norm: float | None = None,
              step_time_s: float | None = None) -> Failure | None:
        """Record one optimizer step; return a Failure if the run must stop."""
        self.steps_seen += 1
        if not math.isfinite(loss):
            return Failure("nan_inf", f"loss is {loss} at step {step}", step)
        if loss > self.max_loss or loss <= 0:
            return Failure("loss_explosion", f"loss {loss:.4g} at step {step} is outside (0, {self.max_loss:g}]", step)
        if grad_norm is not None:
            if not math.isfinite(grad_norm):
                return Failure("nan_inf", f"gradient norm is {grad_norm} at step {step}", step)
            if grad_norm > self.max_grad_norm:
                return Failure("grad_explosion", f"gradient norm {grad_norm:.4g} > {self.max_grad_norm:g} at step {step}", step)
        self.ema = loss if self.ema is None else self.ema_beta * self.ema + (1 - self.ema_beta) * loss
        if self.steps_seen > self.grace_steps and self.ema > self.divergence_ratio * self.best_ema:
            return Failure(
                "loss_divergence",
                f"smoothed loss {self.ema:.4g} at step {step} is over {self.divergence_ratio:g}x its "
                f"minimum {self.best_ema:.4g}",
                step,
            )
        self.best_ema = min(self.best_ema, self.ema)
        if step_time_s is not None and self.step_time_limit_s and self.steps_seen > self.skip_first_steps:
            if self.recent_times.maxlen != self.time_window:
                self.recent_times = deque(self.recent_times, maxlen=self.time_window)
            self.recent_times.append(step_time_s)
            if len(self.recent_times) == self.time_window:
                median = sorted(self.recent_times)[len(self.recent_times) // 2]
                if median > self.step_time_limit_s:
                    return Failure(
                        "too_slow",
                        f"median step time {median:.3g}s over the last {self.time_window} steps exceeds the "
                        f"rung's limit of {self.step_time_limit_s:.3g}s",
                        step,
                    )
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"ema": self.ema, "best_ema": self.best_ema, "steps_seen": self.steps_seen,
                "recent_times": list(self.recent_times)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ema = state["ema"]
        self.best_ema = state["best_ema"]
        self.steps_seen = state["steps_seen"]
        self.recent_times = deque(state["recent_times"], maxlen=self.time_window)
