"""The implementation stage, unit by unit: planner, coder, checker, observer, with rollback.

The to-do list is the tree's declared but unwritten units. For each, the planner writes a plan and
the coder writes the unit (one GAU per reply); the candidate tree (the accepted units plus this one)
goes through the structural checks, the symbolic checker and the observer. A failed attempt is
rolled back to the last accepted tree and the coder tries again with the findings, up to the debug
limit; a unit that exhausts it is a failed round and goes back on the list. Accepted units are
frozen; the children a unit declares join the list, unless a parent already implements them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from verifier.core.gau.composer import tree_outline
from verifier.core.gau.source import class_names
from verifier.core.gau.tree import GAUTree, TreeError

from .agents import Agents, CallRecord
from .budget import Budget
from .checking import CheckFn, CheckOutcome, finding, format_findings, run_check
from .config import Ablation, Limits
from .context import (
    callers_text,
    declaration_text,
    hyperparameters_text,
    implemented_text,
    pretty,
    replaced_text,
)
from .design_edits import adopt_from_parents, open_unit, prune_declarations, put_unit, scratch_tree
from .parsing import ParseError, json_object, score_field, text_field, unit_code
from .proposal import Proposal
from .providers import Message


@dataclass
class Rating:
    quality: int
    adherence: int
    novelty: int
    rating: int
    comments: str


def parse_rating(text: str) -> Rating:
    data = json_object(text)
    return Rating(
        quality=score_field(data, "quality"),
        adherence=score_field(data, "adherence"),
        novelty=score_field(data, "novelty"),
        rating=score_field(data, "rating"),
        comments=text_field(data, "comments", allow_empty=True),
    )


def parse_plan(text: str) -> str:
    if not text.strip():
        raise ParseError("the plan was empty; write the implementation plan in Markdown")
    return text.strip()


def start_tree(proposal: Proposal, mode: str, parents: list[GAUTree], name: str) -> tuple[GAUTree, dict[str, tuple[str, str]]]:
    """The tree the coder starts from: the base parent with the proposal's units opened (or an empty
    design for scratch), parents' units adopted by name. Also returns, per new unit, what it replaces."""
    replaced: dict[str, tuple[str, str]] = {}
    if mode == "scratch" or proposal.base_parent is None:
        change = proposal.units[0]
        tree = scratch_tree(name, change.new_name, change.change)
    else:
        base = next(p for p in parents if p.name == proposal.base_parent)
        tree = base.copy()
        for change in proposal.units:
            assert change.name is not None
            tree = open_unit(tree, change.name, change.new_name, change.change)
            replaced[change.new_name] = (change.name, base.units[change.name].code)
    tree.name = name
    tree.metadata = {"description": proposal.title, "mode": mode, "parents": [p.name for p in parents]}
    adopt_from_parents(tree, parents, exclude=rewritten_in_place(proposal))
    prune_declarations(tree)
    return tree, replaced


def rewritten_in_place(proposal: Proposal) -> set[str]:
    return {c.new_name for c in proposal.units if c.new_name == c.name}


@dataclass
class ImplementationOutcome:
    tree: GAUTree
    completed: bool
    failure: str | None = None
    written: list[str] = field(default_factory=list)
    attempts: int = 0
    failed_rounds: int = 0


@dataclass
class Implementer:
    """Shared state and steps of both implementers (unit by unit here; whole design in whole_design.py)."""

    agents: Agents
    proposal: Proposal
    mode: str
    parents: list[GAUTree]
    tree: GAUTree
    replaced: dict[str, tuple[str, str]]
    budget: Budget
    checker: CheckFn | None = None
    on_attempt: Callable[[dict[str, Any]], None] | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    attempts: int = 0

    @property
    def limits(self) -> Limits:
        return self.agents.config.limits

    @property
    def ablation(self) -> Ablation:
        return self.agents.config.ablation

    def _ask(self, role: str, messages: list[Message]) -> CallRecord:
        return self.agents.ask(role, messages, budget=self.budget)

    def _candidate(self, units: dict[str, str]) -> tuple[GAUTree, list[dict[str, Any]]]:
        """The accepted tree plus the written units, and the structural problems it has."""
        candidate = self.tree.copy()
        findings: list[dict[str, Any]] = []
        frozen = set(self.tree.units)
        for name, code in units.items():
            clashes = sorted((set(class_names(code) or []) - {name}) & (frozen | set(units)))
            for other in clashes:
                findings.append(finding(f"the code defines a class {other}, which is another unit; "
                                        f"call it as a child instead", category="structure", unit=name))
            put_unit(candidate, name, code)
        adopt_from_parents(candidate, self.parents, exclude=rewritten_in_place(self.proposal) - set(units))
        prune_declarations(candidate)
        for problem in candidate.validate(allow_unimplemented=True):
            findings.append(finding(problem, category="structure"))
        try:
            candidate.gab_config()
        except TreeError as exc:
            findings.append(finding(str(exc), category="structure"))
        return candidate, findings

    def _check(self, candidate: GAUTree, focus: str | None, entry: dict[str, Any]) -> list[dict[str, Any]]:
        outcome: CheckOutcome = run_check(candidate, self.checker, focus_unit=focus)
        entry["check"] = outcome.report
        entry["findings"] += outcome.findings
        return [] if outcome.passed else (outcome.errors or outcome.findings or
                                          [finding("the checker rejected the design", category="checker")])

    def _observe(self, unit: str, code: str, plan: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
        summary = format_findings(entry["findings"]) if entry["findings"] else "passed, no findings"
        message = Message("user", self.agents.prompts.render(
            "observer_task", unit=unit, proposal=pretty(self.proposal.to_dict()), plan=plan or "(no plan)",
            code=code.rstrip(), check_summary=summary,
        ))
        rating, _, error = self.agents.ask_parsed("observer", [message], parse_rating, budget=self.budget)
        if rating is None:
            # Fail closed: a unit is accepted only with the observer's rating, not for want of one.
            entry["observer_error"] = f"the observer gave no usable rating ({error}); unit not accepted"
            return [finding(f"the observer's reply could not be read ({error}), so the unit was not reviewed "
                            "and is not accepted; try again", category="observer", unit=unit)]
        entry["rating"] = asdict(rating)
        if rating.rating >= self.limits.observer_threshold:
            return []
        return [finding(f"the observer rated the unit {rating.rating}/5 (quality {rating.quality}, adherence "
                        f"{rating.adherence}, novelty {rating.novelty}): {rating.comments}",
                        category="observer", unit=unit)]

    def _plan(self, unit: str, previous_failure: str) -> str:
        if not self.ablation.planner or self.ablation.direct:
            return ""
        old = self.replaced.get(unit.split(", ")[0])
        message = Message("user", self.agents.prompts.render(
            "planner_task", unit=unit, declaration=self._declarations(unit), proposal=pretty(self.proposal.to_dict()),
            tree_outline=self._outline(), implemented=implemented_text(self.tree),
            todo=", ".join(u for u in self.tree.unimplemented() if u not in unit.split(", ")) or "(none)",
            callers=self._callers(unit), replaced=replaced_text(old[1] if old else None, old[0] if old else None),
            previous_failure=previous_failure,
        ))
        plan, _, error = self.agents.ask_parsed("planner", [message], parse_plan, budget=self.budget)
        return plan or f"(the planner gave no plan: {error})"

    def _new_entry(self, round_no: int, unit: str, attempt: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "round": round_no, "unit": unit, "attempt": attempt, "plan": None, "code": None, "findings": [],
            "check": None, "rating": None, "passed": False, "rolled_back": False, "calls": [],
        }
        self.trace.append(entry)
        return entry

    def _sync_calls(self, entry: dict[str, Any], start: int) -> None:
        """The attempt's calls, from `start` on: kept even when the budget or the provider cut it short."""
        entry["calls"] = [c.to_dict() for c in self.agents.calls[start:]]

    def _declarations(self, units: str) -> str:
        return "\n".join(declaration_text(self.tree, u) for u in units.split(", "))

    def _callers(self, units: str) -> str:
        return "\n\n".join(callers_text(self.tree, u) for u in units.split(", "))

    def _outline(self) -> str:
        return tree_outline(self.tree)

    def _record(self, entry: dict[str, Any]) -> None:
        if self.on_attempt is not None:
            self.on_attempt(entry)


class UnitByUnitImplementer(Implementer):
    def run(self) -> ImplementationOutcome:
        failed_rounds = 0
        round_no = 0
        last_failure = ""
        while self.tree.unimplemented():
            unit = self.tree.unimplemented()[0]
            if len(self.written) >= self.limits.max_new_units:
                return self._outcome(False, failed_rounds, f"more than {self.limits.max_new_units} new units: "
                                     f"the design keeps declaring children ({', '.join(self.tree.unimplemented())})")
            round_no += 1
            accepted, last_failure = self._round(unit, round_no, last_failure)
            if not accepted:
                failed_rounds += 1
                if failed_rounds >= self.limits.max_failed_rounds:
                    return self._outcome(False, failed_rounds, f"{failed_rounds} failed rounds; the last, on unit "
                                         f"{unit}, ended with:\n{last_failure}")
        return self._outcome(True, failed_rounds, None)

    def _outcome(self, completed: bool, failed_rounds: int, failure: str | None) -> ImplementationOutcome:
        return ImplementationOutcome(tree=self.tree, completed=completed, failure=failure, written=list(self.written),
                                     attempts=self.attempts, failed_rounds=failed_rounds)

    def _round(self, unit: str, round_no: int, last_failure: str) -> tuple[bool, str]:
        """Implement `unit` within the debug limit; returns (accepted, findings of the last failure)."""
        previous = ""
        if last_failure:
            previous = f"## The previous round failed\n\nIts last findings:\n{last_failure}\n"
        entry = self._new_entry(round_no, unit, 1)
        start = len(self.agents.calls)
        try:
            plan = entry["plan"] = self._plan(unit, previous)
        finally:
            self._sync_calls(entry, start)
        old = self.replaced.get(unit)
        task = Message("user", self.agents.prompts.render(
            "coder_task", unit=unit, declaration=declaration_text(self.tree, unit),
            plan=plan or "(no plan: implement the unit from the proposal)", proposal=pretty(self.proposal.to_dict()),
            tree_outline=self._outline(), implemented=implemented_text(self.tree), callers=callers_text(self.tree, unit),
            replaced=replaced_text(old[1] if old else None, old[0] if old else None),
            hyperparameters=hyperparameters_text(self.tree),
        ))
        messages = [task]
        failure_text = ""
        for attempt in range(1, self.limits.max_debug_attempts + 2):
            if attempt > 1:
                entry = self._new_entry(round_no, unit, attempt)
                start = len(self.agents.calls)
            try:
                record = self._ask("coder", messages)
                self.attempts += 1
                failures = self._attempt(unit, record.reply, plan, entry)
            finally:
                self._sync_calls(entry, start)
            if not failures:
                entry["passed"] = True
                entry["tree_hash"] = self.tree.content_hash()
                self._record(entry)
                return True, ""
            entry["rolled_back"] = True
            failure_text = format_findings(failures)
            entry["feedback"] = failure_text
            self._record(entry)
            messages = [task, Message("assistant", record.reply or "(empty reply)"),
                        Message("user", self.agents.prompts.render("coder_retry", findings=failure_text, unit=unit))]
        return False, failure_text

    def _attempt(self, unit: str, reply: str, plan: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """Run one coder reply through every gate; on success the tree advances, else it stays put."""
        try:
            code = unit_code(reply, unit)
        except ParseError as exc:
            problem = finding(str(exc), category="format", unit=unit)
            entry["findings"].append(problem)
            return [problem]
        entry["code"] = code
        candidate, problems = self._candidate({unit: code})
        entry["findings"] += problems
        if problems:
            return problems
        if self.ablation.checker:
            failures = self._check(candidate, unit, entry)
            if failures:
                return failures
        if self.ablation.observer:
            failures = self._observe(unit, code, plan, entry)
            if failures:
                entry["findings"] += failures
                return failures
        self.tree = candidate
        self.written.append(unit)
        return []
