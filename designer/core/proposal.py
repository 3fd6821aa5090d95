"""The proposal stage: the proposer writes a structured proposal, the reviewer scores it 1-5, and the
proposer revises until the score reaches the threshold or the attempts run out. Every round is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from verifier.core.gau.tree import GAUTree

from .agents import Agents, CallRecord
from .context import describe_parents, describe_references, pretty
from .design_edits import valid_unit_name
from .parsing import ParseError, json_object, list_field, score_field, text_field
from .providers import Message


@dataclass
class UnitChange:
    name: str | None  # the unit of the base parent that is replaced; None for a new root (scratch)
    new_name: str
    change: str


@dataclass
class Proposal:
    title: str
    motivation: str
    units: list[UnitChange]
    pseudocode: str
    expected_effect: str
    references: list[str] = field(default_factory=list)
    base_parent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proposal:
        data = dict(data)
        units = [UnitChange(**u) for u in data.pop("units", [])]
        return cls(units=units, **data)


@dataclass
class Review:
    score: int
    strengths: str
    concerns: str
    suggestions: str

    def text(self) -> str:
        return f"Strengths: {self.strengths}\nConcerns: {self.concerns}\nSuggestions: {self.suggestions}"


def parse_proposal(text: str, mode: str, parents: list[GAUTree]) -> Proposal:
    """A proposal that can be implemented against `parents`, or a ParseError saying why not."""
    data = json_object(text)
    names = [p.name for p in parents]
    base = data.get("base_parent")
    if mode == "scratch":
        base = None
    elif mode == "mutation" or base in (None, ""):
        base = names[0]
    elif base not in names:
        raise ParseError(f"base_parent {base!r} is not one of the parents ({', '.join(names)})")
    base_tree = next((p for p in parents if p.name == base), None)

    raw_units = list_field(data, "units")
    if not raw_units:
        raise ParseError("field 'units' must list at least one unit to change")
    units: list[UnitChange] = []
    for i, raw in enumerate(raw_units, 1):
        if not isinstance(raw, dict):
            raise ParseError(f"units[{i}] must be an object with name, new_name and change")
        units.append(_unit_change(raw, i, mode, base_tree, units))
    if mode == "scratch" and len(units) != 1:
        raise ParseError("a design from scratch has exactly one entry in 'units': the new root, with name null")
    references = [str(r) for r in list_field(data, "references")]
    return Proposal(
        title=text_field(data, "title"),
        motivation=text_field(data, "motivation"),
        units=units,
        pseudocode=text_field(data, "pseudocode"),
        expected_effect=text_field(data, "expected_effect"),
        references=references,
        base_parent=base,
    )


def _unit_change(raw: dict[str, Any], i: int, mode: str, base: GAUTree | None, earlier: list[UnitChange]) -> UnitChange:
    name = raw.get("name")
    new_name = raw.get("new_name")
    change = raw.get("change")
    if not isinstance(new_name, str) or not valid_unit_name(new_name):
        raise ParseError(f"units[{i}].new_name must be a CamelCase Python class name, got {new_name!r}")
    if not isinstance(change, str) or not change.strip():
        raise ParseError(f"units[{i}].change must say what the new unit does")
    if mode == "scratch":
        if name not in (None, ""):
            raise ParseError("in a design from scratch the root's 'name' must be null: there is no parent unit")
        return UnitChange(None, new_name, change.strip())
    assert base is not None
    if not isinstance(name, str) or name not in base.units:
        raise ParseError(f"units[{i}].name {name!r} is not a unit of {base.name} "
                         f"(units: {', '.join(base.implemented())})")
    if new_name != name and (new_name in base.units or new_name in base.declares):
        raise ParseError(f"units[{i}].new_name {new_name!r} is already a unit of {base.name}; choose a new name")
    for j, other in enumerate(earlier, 1):
        if other.name == name or other.new_name == new_name:
            raise ParseError(f"units[{i}] repeats units[{j}]")
        assert other.name is not None
        if name in base.reachable(other.name) or other.name in base.reachable(name):
            raise ParseError(f"units[{i}] ({name}) and units[{j}] ({other.name}) are nested: list only the outer one")
    return UnitChange(name, new_name, change.strip())


def parse_review(text: str) -> Review:
    data = json_object(text)
    return Review(
        score=score_field(data, "score"),
        strengths=text_field(data, "strengths", allow_empty=True),
        concerns=text_field(data, "concerns", allow_empty=True),
        suggestions=text_field(data, "suggestions", allow_empty=True),
    )


@dataclass
class ProposalStage:
    agents: Agents
    mode: str
    parents: list[GAUTree]
    references: list[dict[str, Any]]
    references_note: str = ""
    theme: str = ""
    on_round: Callable[[dict[str, Any]], None] | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def run(self) -> Proposal | None:
        """The accepted proposal, or None when the attempts ran out (every round is in `rounds`)."""
        limits = self.agents.config.limits
        prompts = self.agents.prompts
        parents_text = describe_parents(self.parents)
        references_text = describe_references(self.references, self.references_note)
        task = Message("user", prompts.render(
            "proposer_task", mode=self.mode, mode_instructions=prompts.render(f"mode_{self.mode}"),
            theme=self.theme or "(open: any change that should improve the design)",
            parents=parents_text, references=references_text,
        ))
        conversation = [task]
        previous: Review | None = None
        for round_no in range(1, limits.max_proposal_attempts + 1):
            entry: dict[str, Any] = {"round": round_no, "proposal": None, "review": None, "score": None,
                                     "passed": False, "calls": []}
            self.rounds.append(entry)
            start = len(self.agents.calls)
            try:
                proposal, review, reply = self._round(entry, conversation, parents_text, references_text, previous)
            finally:  # even a round cut short by the budget or the provider keeps its calls
                entry["calls"] = [c.to_dict() for c in self.agents.calls[start:]]
            self._notify(entry)
            if proposal is None or review is None:
                continue
            if entry["passed"]:
                return proposal
            previous = review
            conversation = [task, Message("assistant", reply),
                            Message("user", prompts.render("proposer_revise", score=review.score,
                                                           threshold=limits.proposal_threshold, review=review.text()))]
        return None

    def _round(self, entry: dict[str, Any], conversation: list[Message], parents_text: str, references_text: str,
               previous: Review | None) -> tuple[Proposal | None, Review | None, str]:
        """One proposal and its review; returns them (None where a reply never parsed) and the proposer's reply."""
        proposal, calls, error = self.agents.ask_parsed(
            "proposer", conversation, lambda text: parse_proposal(text, self.mode, self.parents))
        reply = calls[-1].reply or "(empty reply)"
        if proposal is None:
            entry["error"] = f"proposal did not parse: {error}"
            return None, None, reply
        entry["proposal"] = proposal.to_dict()
        review, _, error = self._review(proposal, entry["round"], parents_text, references_text, previous)
        if review is None:
            entry["error"] = f"review did not parse: {error}"
            return proposal, None, reply
        entry.update(review=asdict(review), score=review.score,
                     passed=review.score >= self.agents.config.limits.proposal_threshold)
        return proposal, review, reply

    def _review(self, proposal: Proposal, round_no: int, parents_text: str, references_text: str,
                previous: Review | None) -> tuple[Review | None, list[CallRecord], str | None]:
        prompts = self.agents.prompts
        previous_text = ""
        if previous is not None:
            previous_text = (f"## Your review of the previous version (score {previous.score})\n\n"
                             f"{previous.text()}\n\nCheck whether the revision answers it.\n")
        message = Message("user", prompts.render(
            "reviewer_task", mode=self.mode, round=round_no, proposal=pretty(proposal.to_dict()),
            parents=parents_text, references=references_text, previous_review=previous_text,
        ))
        return self.agents.ask_parsed("reviewer", [message], parse_review)

    def _notify(self, entry: dict[str, Any]) -> None:
        if self.on_round is not None:
            self.on_round(entry)

