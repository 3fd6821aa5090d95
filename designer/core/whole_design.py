"""The implementation stage without unit-by-unit generation (Table 4 ablations): the coder writes every
unwritten unit in one reply, and the design is checked as a whole.

With `direct` on, this is the paper's direct prompting: one reply, no plan, no checker feedback and
no observer; the final check of the pipeline then measures whether the design is valid.
"""

from __future__ import annotations

from typing import Any

from .checking import finding, format_findings
from .context import (
    callers_text,
    declaration_text,
    hyperparameters_text,
    implemented_text,
    pretty,
    replaced_text,
)
from .implementation import ImplementationOutcome, Implementer
from .parsing import ParseError, units_code
from .providers import Message


class WholeDesignImplementer(Implementer):
    def run(self) -> ImplementationOutcome:
        todo = self.tree.unimplemented()
        if not todo:
            return ImplementationOutcome(tree=self.tree, completed=True)
        units = ", ".join(todo)
        entry = self._new_entry(1, units, 1)
        start = len(self.agents.calls)
        try:
            plan = entry["plan"] = self._plan(units, "")
        finally:
            self._sync_calls(entry, start)
        replaced = "\n".join(replaced_text(self.replaced[u][1], self.replaced[u][0]) for u in todo if u in self.replaced)
        task = Message("user", self.agents.prompts.render(
            "design_task", units=units, proposal=pretty(self.proposal.to_dict()),
            plan=f"## Plan\n\n{plan}\n" if plan else "",
            tree_outline=self._outline(), implemented=implemented_text(self.tree),
            callers="\n\n".join(f"{declaration_text(self.tree, u)}\n\n{callers_text(self.tree, u)}" for u in todo),
            replaced=replaced, hyperparameters=hyperparameters_text(self.tree),
        ))
        messages = [task]
        tries = 1 if self.ablation.direct else self.limits.max_debug_attempts + 1
        failure_text = ""
        for attempt in range(1, tries + 1):
            if attempt > 1:
                entry = self._new_entry(1, units, attempt)
                start = len(self.agents.calls)
            try:
                record = self._ask("coder", messages)
                self.attempts += 1
                failures = self._attempt(todo, record.reply, plan, entry)
            finally:
                self._sync_calls(entry, start)
            if not failures:
                entry["passed"] = True
                entry["tree_hash"] = self.tree.content_hash()
                self._record(entry)
                return ImplementationOutcome(tree=self.tree, completed=True, written=list(self.written),
                                             attempts=self.attempts)
            entry["rolled_back"] = True
            failure_text = format_findings(failures)
            entry["feedback"] = failure_text
            self._record(entry)
            messages = [task, Message("assistant", record.reply or "(empty reply)"),
                        Message("user", self.agents.prompts.render("design_retry", findings=failure_text, units=units))]
        return ImplementationOutcome(tree=self.tree, completed=False, attempts=self.attempts, failed_rounds=1,
                                     failure=f"the design was not implemented in {tries} attempt(s):\n{failure_text}")

    def _attempt(self, todo: list[str], reply: str, plan: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            written = units_code(reply, todo)
        except ParseError as exc:
            problem = finding(str(exc), category="format")
            entry["findings"].append(problem)
            return [problem]
        entry["code"] = "\n\n".join(written.values())
        candidate, problems = self._candidate(written)
        missing = candidate.unimplemented()
        if missing:
            problems.append(finding(f"declared but not written: {', '.join(missing)}", category="structure"))
        entry["findings"] += problems
        if problems:
            return problems
        if self.ablation.checker and not self.ablation.direct:
            failures = self._check(candidate, None, entry)
            if failures:
                return failures
        if self.ablation.observer and not self.ablation.direct:
            failures = self._observe(", ".join(written), entry["code"], plan, entry)
            if failures:
                entry["findings"] += failures
                return failures
        self.tree = candidate
        self.written += list(written)
        return []
