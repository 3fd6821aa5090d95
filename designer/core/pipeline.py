"""The designer interface: `design(parents, mode, config) -> DesignerResult`.

One call makes one design. With a model configured for every role, the LLM agents propose (proposer
and reviewer) and implement (planner, coder, checker, observer); otherwise the genetic-programming
designer runs. Whatever happens (budget reached, provider down, malformed replies, a checker crash)
the call returns a result that says what was done and why it stopped: it never raises for the
models' behaviour, only for a wrong call (a mode that does not match the number of parents).
"""

from __future__ import annotations

import logging
import random
import re
import traceback
from collections.abc import Callable
from typing import Any

from verifier.core.gau.tree import GAUTree

from .agents import Agents
from .budget import Budget, BudgetExhausted
from .checking import CheckerUnavailable, CheckFn, load_checker, run_check
from .config import DesignerConfig
from .design_edits import lines_of_code
from .gp_designer import gp_design
from .implementation import ImplementationOutcome, Implementer, UnitByUnitImplementer, start_tree
from .prompts import PromptSet
from .proposal import Proposal, ProposalStage
from .providers import Provider, ProviderError
from .references import NO_LITERATURE, find_references
from .result import DesignerResult
from .whole_design import WholeDesignImplementer

log = logging.getLogger(__name__)

MODES = {"mutation": (1, 1), "crossover": (2, None), "scratch": (0, 0)}
EventHook = Callable[[str, dict[str, Any]], None]


def check_mode(mode: str, parents: list[GAUTree]) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    low, high = MODES[mode]
    if len(parents) < low or (high is not None and len(parents) > high):
        want = {"mutation": "exactly one parent", "crossover": "two or more parents", "scratch": "no parents"}[mode]
        raise ValueError(f"{mode} takes {want}, got {len(parents)}")


def design(parents: list[GAUTree], mode: str, config: DesignerConfig | None = None, *,
           providers: dict[str, Provider] | None = None, http_client: Any = None, knowledge: Any = None,
           checker: CheckFn | None = None, proposal: Proposal | None = None, pool: list[GAUTree] | None = None,
           rng: random.Random | None = None, on_event: EventHook | None = None) -> DesignerResult:
    """Make one design from `parents` (one for mutation, two or more for crossover, none for scratch).

    `providers` (by role) or `http_client` replace how models are reached (tests, custom clients);
    `proposal` skips the proposal stage (to implement the same proposals under each ablation);
    `on_event(kind, data)` hears about each review round and unit attempt as they finish.
    """
    config = config or DesignerConfig.from_env()
    check_mode(mode, parents)
    rng = rng or random.Random(config.seed)
    if checker is None and config.check_config:
        try:
            checker = load_checker(config.check_config)
        except CheckerUnavailable:
            pass  # each stage reports the missing checker where it needs one
    ready, why = config.llm_ready()
    if not ready and not (providers and not config.use_gp):
        log.info("designing with the GP designer: %s", why)
        result = gp_design(parents, mode, pool=pool, rng=rng, checker=checker, reason=why,
                           check=config.ablation.checker)
        _emit(on_event, "finished", {"status": result.status})
        return result
    return LLMDesigner(config, parents, mode, providers=providers or {}, http_client=http_client,
                       knowledge=knowledge, checker=checker, on_event=on_event).run(proposal)


class LLMDesigner:
    """One run of the agents; keeps the partial record when a run stops early."""

    def __init__(self, config: DesignerConfig, parents: list[GAUTree], mode: str, *, providers: dict[str, Provider],
                 http_client: Any, knowledge: Any, checker: CheckFn | None, on_event: EventHook | None):
        self.config, self.parents, self.mode = config, parents, mode
        self.knowledge, self.checker, self.on_event = knowledge, checker, on_event
        self.prompts = PromptSet(config.prompt_version)
        self.budget = Budget(config.limits.run_budget_dollars, "run")
        self.agents = Agents(config, self.prompts, self.budget, providers=dict(providers), http_client=http_client)
        self.result = DesignerResult(mode=mode, parents=[p.name for p in parents], origin={
            "kind": "llm", "models": config.models(),
            "providers": {r: config.provider_for(r).kind for r in config.roles},
            "ablation": config.ablation.name,
        }, prompt_version=self.prompts.label)
        self.stage: ProposalStage | None = None
        self.implementer: Implementer | None = None

    def run(self, proposal: Proposal | None = None) -> DesignerResult:
        try:
            self._run(proposal)
        except BudgetExhausted as exc:
            self.result.failure = str(exc)
        except ProviderError as exc:
            self.result.failure = f"the model provider failed: {exc}"
        except CheckerUnavailable as exc:
            self.result.failure = str(exc)
        except Exception as exc:  # noqa: BLE001 - a task must end with a record, not a traceback
            log.exception("designer run failed")
            self.result.failure = f"internal error: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        self._finish()
        return self.result

    def _run(self, proposal: Proposal | None) -> None:
        result = self.result
        if self.config.literature:
            refs, note = find_references(self.parents, self.config.theme, knowledge=self.knowledge,
                                         knowledge_path=self.config.knowledge_path)
        else:
            refs, note = [], NO_LITERATURE
        result.references = refs
        if note:
            result.origin["references_note"] = note
        if proposal is None:
            self.stage = ProposalStage(self.agents, self.mode, self.parents, refs, note, self.config.theme,
                                       on_round=lambda r: _emit(self.on_event, "review_round", r))
            proposal = self.stage.run()
            if proposal is None:
                result.failure = (f"no proposal reached the review threshold "
                                  f"({self.config.limits.proposal_threshold}/5) in "
                                  f"{self.config.limits.max_proposal_attempts} attempts")
                return
        result.proposal = proposal.to_dict()
        result.name = design_name(proposal.title, self.parents)
        tree, replaced = start_tree(proposal, self.mode, self.parents, result.name)
        budget = self.budget.child(self.config.limits.implementation_budget_dollars, "implementation")
        kind = UnitByUnitImplementer if self.config.ablation.unit_by_unit and not self.config.ablation.direct \
            else WholeDesignImplementer
        self.implementer = kind(self.agents, proposal, self.mode, self.parents, tree, replaced, budget,
                                checker=self.checker, on_attempt=lambda e: _emit(self.on_event, "unit_attempt", e))
        outcome: ImplementationOutcome = self.implementer.run()
        result.tree = outcome.tree
        if not outcome.completed:
            result.failure = outcome.failure
            return
        final = run_check(outcome.tree, self.checker)
        result.check_report = final.report
        if final.passed:
            result.status = "implemented"
        else:
            result.failure = "the finished design failed the checker"

    def _finish(self) -> None:
        result = self.result
        if self.stage is not None:
            result.review_rounds = self.stage.rounds
        implementer = self.implementer
        if implementer is not None:
            result.trace = implementer.trace
        result.cost = self.agents.cost
        written = implementer.written if implementer else []
        tree = result.tree
        result.metrics = {
            "ablation": self.config.ablation.name,
            "valid": result.status == "implemented",
            "attempts": implementer.attempts if implementer else 0,
            "proposal_rounds": len(result.review_rounds),
            "new_units": written,
            "lines_of_code": sum(lines_of_code(tree.units[u].code) for u in written if tree and u in tree.units),
            "tokens": result.cost.tokens_in + result.cost.tokens_out,
            "dollars_by_role": dict(self.agents.cost_by_role),
            "tokens_by_role": {role: list(pair) for role, pair in self.agents.tokens_by_role.items()},
            "calls": len(self.agents.calls),
            "unpriced_models": sorted({c.model for c in self.agents.calls if c.dollars == 0 and c.tokens_in}),
        }
        if result.status != "implemented" and result.failure is None:
            result.failure = "stopped"
        _emit(self.on_event, "finished", {"status": result.status, "failure": result.failure})


def design_name(title: str, parents: list[GAUTree]) -> str:
    """A readable design name from the proposal title: `ShortConvGLU` from "Short-conv GLU"."""
    words = re.findall(r"[A-Za-z0-9]+", title)
    name = "".join(w[:1].upper() + w[1:] for w in words)[:48]
    return name or ("design-" + "-".join(p.name for p in parents))


def _emit(hook: EventHook | None, kind: str, data: dict[str, Any]) -> None:
    if hook is None:
        return
    try:
        hook(kind, data)
    except Exception:  # noqa: BLE001 - a listener's bug must not end the design
        log.exception("designer event hook failed")
