"""What a designer (LLM agents or the genetic-programming designer) hands back for one design.

It is plain data so that the evolution app can store it and the web app can show every step:
the proposal, each review round, each unit attempt with the checker's findings, and the cost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from verifier.core.gau.tree import GAUTree


@dataclass
class Cost:
    tokens_in: int = 0
    tokens_out: int = 0
    dollars: float = 0.0
    seconds: float = 0.0

    def add(self, other: Cost) -> None:
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.dollars += other.dollars
        self.seconds += other.seconds


@dataclass
class DesignerResult:
    """One designer run. `status` is "implemented" (tree is set and passed the checker), "unchecked"
    (tree is set but no checker ran: the checker ablation, or none available here; `failure` says why)
    or "failed"."""

    mode: str  # "mutation" | "crossover" | "scratch"
    parents: list[str]  # parent design names (or tree content hashes) as the caller gave them
    origin: dict[str, Any]  # {"kind": "llm"|"gp", "models": {role: model}, "operator": ...}
    status: str = "failed"
    tree: GAUTree | None = None
    name: str = ""
    proposal: dict[str, Any] | None = None  # title, motivation, units, pseudocode, effect, references
    review_rounds: list[dict[str, Any]] = field(default_factory=list)  # {round, proposal, review, score, passed}
    trace: list[dict[str, Any]] = field(default_factory=list)  # unit attempts: plan, code, findings, rating
    check_report: dict[str, Any] | None = None  # CheckReport.to_dict() of the whole design
    failure: str | None = None
    cost: Cost = field(default_factory=Cost)
    prompt_version: str = ""
    references: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)  # attempts, lines of code, validity (ablations)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tree"] = self.tree.to_dict() if self.tree is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DesignerResult:
        data = dict(data)
        tree = data.pop("tree", None)
        cost = Cost(**data.pop("cost", {}))
        return cls(**data, tree=GAUTree.from_dict(tree) if tree else None, cost=cost)
