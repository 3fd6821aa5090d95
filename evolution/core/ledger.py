"""The cost ledger of a run: what each design, branch and the whole run cost, and what it bought.

Costs are what was measured where the work happened: the designer's LLM tokens and dollars per agent
role, the CPU time of the design job (its checks, the GP operators) and of separate checks, each
verification's CPU time, device time and wall time. A rung's device says what its measured training
time is: GPU-seconds at a GPU rung, seconds on the CPU at a CPU rung (`cpu_rung_s`, kept apart from
the measured CPU-seconds: the training runs behind bubblewrap, whose children this process's rusage
does not see; the checker reports its child's CPU time itself, see `evolution.core.cpu_time`).

A branch is a lineage subtree: a design of the run whose parents are all outside it (seeds, uploads,
other runs) and its descendants in the run. A crossover child of two branches is counted in both,
so branches may add up to more than the run.

Fitness gained is the best F among the run's designs minus the best F of the starting population
(the designs outside the run the run could breed from): F is comparable across rungs (a mean of
z-scores), a rung's own value is not. Per dollar and per GPU-hour it is None when nothing was spent.

Plain data in and out; no framework.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DesignCost:
    id: int
    name: str = ""
    parents: tuple[int, ...] = ()
    in_run: bool = True  # False: the starting population (seeds, uploads, other runs)
    created_s: float = 0.0  # seconds since the run started
    fitness: float | None = None
    tokens: dict[str, tuple[int, int]] = field(default_factory=dict)  # role -> (in, out)
    dollars: dict[str, float] = field(default_factory=dict)  # role -> dollars
    unattributed_dollars: float = 0.0  # spent but not recorded per role
    design_cpu_s: float = 0.0  # the design job: its checks and GP operators
    check_cpu_s: float = 0.0  # checks run apart from the design job
    designer_wall_s: float = 0.0


@dataclass
class VerificationCost:
    design: int
    rung: str
    device: str  # "cuda" or "cpu": what the rung's measured training time is
    train_s: float = 0.0  # the report's measured total (GPU-seconds at a GPU rung)
    cpu_s: float = 0.0  # the job's CPU time (with its children)
    wall_s: float = 0.0  # started to finished
    finished_s: float | None = None  # seconds since the run started


@dataclass
class Totals:
    tokens_in: int = 0
    tokens_out: int = 0
    dollars: float = 0.0
    design_cpu_s: float = 0.0
    check_cpu_s: float = 0.0
    verify_cpu_s: float = 0.0
    gpu_s: float = 0.0
    cpu_rung_s: float = 0.0  # training time at CPU rungs (from the reports)
    wall_s: float = 0.0  # designer wall + verification wall

    def add_design(self, d: DesignCost) -> None:
        self.tokens_in += sum(t[0] for t in d.tokens.values())
        self.tokens_out += sum(t[1] for t in d.tokens.values())
        self.dollars += sum(d.dollars.values()) + d.unattributed_dollars
        self.design_cpu_s += d.design_cpu_s
        self.check_cpu_s += d.check_cpu_s
        self.wall_s += d.designer_wall_s

    def add_verification(self, v: VerificationCost) -> None:
        self.verify_cpu_s += v.cpu_s
        self.gpu_s += v.train_s if v.device != "cpu" else 0.0
        self.cpu_rung_s += v.train_s if v.device == "cpu" else 0.0
        self.wall_s += v.wall_s

    @property
    def cpu_s(self) -> float:
        return self.design_cpu_s + self.check_cpu_s + self.verify_cpu_s

    def to_dict(self) -> dict[str, Any]:
        return {"tokens_in": self.tokens_in, "tokens_out": self.tokens_out, "dollars": round(self.dollars, 6),
                "design_cpu_s": round(self.design_cpu_s, 3), "check_cpu_s": round(self.check_cpu_s, 3),
                "verify_cpu_s": round(self.verify_cpu_s, 3), "cpu_s": round(self.cpu_s, 3),
                "gpu_s": round(self.gpu_s, 3), "gpu_hours": round(self.gpu_s / 3600, 6),
                "cpu_rung_s": round(self.cpu_rung_s, 3), "wall_s": round(self.wall_s, 3)}


def branch_roots(designs: list[DesignCost]) -> list[int]:
    """Designs of the run none of whose parents is in the run (scratch designs included)."""
    in_run = {d.id for d in designs if d.in_run}
    return [d.id for d in sorted(designs, key=lambda d: d.id) if d.in_run and not set(d.parents) & in_run]


def subtree(root: int, children: dict[int, list[int]]) -> list[int]:
    """The root and every descendant, each once (crossovers make the lineage a DAG), in id order."""
    seen, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return sorted(seen)


def children_of(designs: list[DesignCost]) -> dict[int, list[int]]:
    in_run = {d.id for d in designs if d.in_run}
    out: dict[int, list[int]] = defaultdict(list)
    for d in designs:
        if d.in_run:
            for p in d.parents:
                if p in in_run:
                    out[p].append(d.id)
    return out


def _ratio(gain: float | None, spent: float) -> float | None:
    return None if gain is None or spent <= 0 else gain / spent


def fitness_gain(designs: list[DesignCost]) -> dict[str, float | None]:
    start = [d.fitness for d in designs if not d.in_run and d.fitness is not None]
    made = [d.fitness for d in designs if d.in_run and d.fitness is not None]
    best_start, best_run = (max(start) if start else None), (max(made) if made else None)
    gain = None if best_start is None or best_run is None else best_run - best_start
    return {"best_start": best_start, "best_run": best_run, "gain": gain}


def ledger(designs: list[DesignCost], verifications: list[VerificationCost], *, top_branches: int = 20) -> dict[str, Any]:
    """Per design, per branch and for the run: the costs, by role and by rung; the cumulative curves;
    fitness gained per dollar and per GPU-hour. `verifications` are the run's (a run may verify a
    seed: the run pays for it, no design of the run does)."""
    run_ids = {d.id for d in designs if d.in_run}
    by_design: dict[int, Totals] = defaultdict(Totals)
    roles: dict[str, dict[str, float]] = defaultdict(lambda: {"tokens_in": 0, "tokens_out": 0, "dollars": 0.0})
    run = Totals()
    for d in designs:
        if d.in_run:
            by_design[d.id].add_design(d)
            run.add_design(d)
            for role in sorted(set(d.tokens) | set(d.dollars)):
                tin, tout = d.tokens.get(role, (0, 0))
                roles[role]["tokens_in"] += tin
                roles[role]["tokens_out"] += tout
                roles[role]["dollars"] += d.dollars.get(role, 0.0)
            if d.unattributed_dollars:
                roles["(not by role)"]["dollars"] += d.unattributed_dollars
    rungs: dict[str, dict[str, Any]] = {}
    for v in verifications:
        if v.design in run_ids:
            by_design[v.design].add_verification(v)
        run.add_verification(v)
        row = rungs.setdefault(v.rung, {"rung": v.rung, "device": v.device, "verifications": 0, "cpu_s": 0.0,
                                        "gpu_s": 0.0, "train_s": 0.0, "wall_s": 0.0})
        row["verifications"] += 1
        row["cpu_s"] += v.cpu_s
        row["train_s"] += v.train_s
        row["gpu_s"] += v.train_s if v.device != "cpu" else 0.0
        row["wall_s"] += v.wall_s
    children = children_of(designs)
    fitness = {d.id: d.fitness for d in designs}
    names = {d.id: d.name for d in designs}
    branches = []
    for root in branch_roots(designs):
        members = subtree(root, children)
        total = Totals()
        for m in members:
            part = by_design.get(m)
            if part is not None:
                _merge(total, part)
        known = [f for m in members if (f := fitness[m]) is not None]
        branches.append({"root": root, "name": names[root], "designs": len(members),
                         "best_fitness": max(known) if known else None, **total.to_dict()})
    branches.sort(key=lambda b: (-b["dollars"] - b["gpu_s"] / 3600, b["root"]))
    gain = fitness_gain(designs)
    return {
        "run": run.to_dict(),
        "by_role": [{"role": r, **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in roles[r].items()}}
                    for r in sorted(roles)],
        "by_rung": [{**r, **{k: round(r[k], 3) for k in ("cpu_s", "gpu_s", "train_s", "wall_s")}}
                    for r in rungs.values()],
        "designs": [{"id": i, "name": names[i], "fitness": fitness[i], **by_design[i].to_dict()} for i in sorted(run_ids)],
        "branches": branches[:top_branches],
        "branch_count": len(branches),
        "curve": cost_curve(designs, verifications),
        "fitness": {**gain, "per_dollar": _ratio(gain["gain"], run.dollars),
                    "per_gpu_hour": _ratio(gain["gain"], run.gpu_s / 3600)},
    }


def _merge(total: Totals, part: Totals) -> None:
    for name in ("tokens_in", "tokens_out", "dollars", "design_cpu_s", "check_cpu_s", "verify_cpu_s", "gpu_s",
                 "cpu_rung_s", "wall_s"):
        setattr(total, name, getattr(total, name) + getattr(part, name))


def cost_curve(designs: list[DesignCost], verifications: list[VerificationCost]) -> list[dict[str, float | None]]:
    """Cumulative dollars, GPU-hours and CPU-hours over the run's time, with the best F so far: one point
    per design and per finished verification, in time order (ties: designs first, then by id)."""
    steps: list[tuple[float, int, int, float, float, float]] = []
    for d in designs:
        if d.in_run:
            steps.append((d.created_s, 0, d.id, sum(d.dollars.values()) + d.unattributed_dollars, 0.0,
                          d.design_cpu_s + d.check_cpu_s))
    for i, v in enumerate(verifications):
        if v.finished_s is not None:
            steps.append((v.finished_s, 1, i, 0.0, v.train_s if v.device != "cpu" else 0.0, v.cpu_s))
    steps.sort(key=lambda s: (s[0], s[1], s[2]))
    fitness = {d.id: d.fitness for d in designs}
    dollars = gpu = cpu = 0.0
    best: float | None = None
    seen: set[int] = set()
    points = []
    for t, kind, key, cost, gpu_s, cpu_s in steps:
        dollars, gpu, cpu = dollars + cost, gpu + gpu_s, cpu + cpu_s
        design = key if kind == 0 else verifications[key].design
        if kind == 1 and design not in seen and fitness.get(design) is not None:
            seen.add(design)  # a design counts towards the best once it has been verified
            best = fitness[design] if best is None else max(best, fitness[design])  # type: ignore[type-var]
        points.append({"t_s": round(t, 3), "dollars": round(dollars, 6), "gpu_hours": round(gpu / 3600, 6),
                       "cpu_hours": round(cpu / 3600, 6), "best_fitness": best})
    return points
