"""A dollar budget that stops spending once reached.

Budgets nest: the implementation stage has its own ($2 by default) inside the run's, and a charge
counts against both. A call is refused once a budget is spent, so a run overshoots by at most the
one call that crossed the line, and that call is still recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class BudgetExhausted(RuntimeError):
    """Raised before a call that a spent budget no longer allows."""

    def __init__(self, budget: Budget):
        self.budget = budget
        super().__init__(
            f"{budget.label} budget reached: ${budget.spent:.4f} spent of ${budget.limit:.2f}"
        )


@dataclass
class Budget:
    limit: float
    label: str = "run"
    parent: Budget | None = None
    spent: float = field(default=0.0)

    def child(self, limit: float, label: str) -> Budget:
        return Budget(limit=limit, label=label, parent=self)

    @property
    def remaining(self) -> float:
        return max(0.0, self.limit - self.spent)

    def exhausted(self) -> Budget | None:
        """The innermost budget that is spent (this one or an ancestor), if any."""
        budget: Budget | None = self
        while budget is not None:
            if budget.spent >= budget.limit:
                return budget
            budget = budget.parent
        return None

    def ensure_available(self) -> None:
        spent = self.exhausted()
        if spent is not None:
            raise BudgetExhausted(spent)

    def charge(self, dollars: float) -> None:
        budget: Budget | None = self
        while budget is not None:
            budget.spent += dollars
            budget = budget.parent
