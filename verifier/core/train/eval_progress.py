"""How far lm-eval has got: requests scored out of those asked, per task, as progress events.

lm-eval hands the harness every task's loglikelihood requests in one call, and a GPU rung's
evaluation runs for minutes; without this the run page showed "eval" and nothing else. The harness
(scoring.GenesysHFLM) calls `asked` with the task of each request it is about to score and `scored`
as batches of them finish; an event goes out at most every `every_s` seconds (and always when a
call ends), so a fast CPU evaluation does not flood the progress channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

Emit = Callable[[dict[str, Any]], None]
EVERY_S = 2.0
MAX_TASKS = 32  # a progress event stays small whatever a group expands to


class EvalProgress:
    """Per task: requests scored and requests asked, reported through `emit` (rate-limited)."""

    def __init__(self, emit: Emit, every_s: float = EVERY_S, clock: Callable[[], float] = time.monotonic):
        self.emit, self.every_s, self.clock = emit, every_s, clock
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.last = float("-inf")

    def asked(self, tasks: Iterable[str | None]) -> None:
        """Requests about to be scored (one task name per request); reported at once."""
        for task in tasks:
            name = task or "other"
            self.totals[name] = self.totals.get(name, 0) + 1
            self.done.setdefault(name, 0)
        self.report(force=True)

    def scored(self, tasks: Iterable[str | None]) -> None:
        """Requests whose scores are computed (one task name per request)."""
        for task in tasks:
            name = task or "other"
            self.done[name] = min(self.totals.get(name, 0), self.done.get(name, 0) + 1)
        self.report()

    def finished(self) -> None:
        """The harness call is over: the last counts go out whatever the rate limit says."""
        self.report(force=True)

    def report(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self.last < self.every_s:
            return
        self.last = now
        self.emit(self.event())

    def event(self) -> dict[str, Any]:
        names = list(self.totals)[:MAX_TASKS]
        done, total = sum(self.done.values()), sum(self.totals.values())
        return {
            "event": "eval", "phase": "eval", "done": done, "total": total,
            "tasks": {n: [self.done.get(n, 0), self.totals[n]] for n in names},
            "message": "scoring " + " · ".join(f"{n} {self.done.get(n, 0)}/{self.totals[n]}" for n in names),
        }
