"""How many of the GP designer's designs are valid and make sense: 200 designs from the seeds with a
fixed rng, counted by what became of them.

    GENESYS_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_gp_designer.py \
        [--n 200] [--seed 0] [--operators current|legacy] [--legacy-rev 31cf43c] [--check runtime|static|none]

Each design draws a mode (mutation, crossover, scratch) and parents from the five seeds, and goes
through the GP designer's own operator choice (`gp_designer._operate`). `--operators legacy` runs the
operators of an older commit (read from git) through the same choice: the "before" figures.

Counted: operator failed; composes; checker-valid (every distinct design checked once by the real
checker, in its sandbox, at a small shape: d_model 32, seq_len 32, 12 training steps, no comparison
with the GPT seed's speed; "valid without mixing" is what the checker said before the mixing stage
existed); sensible (role-consistent: the swap kept the role, the block still has a token mixer, every
declaration describes the unit in its slot and every unit's code declares exactly its children).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from designer.core.gp_designer import _operate  # noqa: E402
from verifier.core.checker import CheckConfig, run_checks  # noqa: E402
from verifier.core.checker.categories import ERROR, NO_MIXING  # noqa: E402
from verifier.core.gau import operators as current_operators  # noqa: E402
from verifier.core.gau.composer import compose  # noqa: E402
from verifier.core.gau.declarations import inconsistent_declarations  # noqa: E402
from verifier.core.gau.roles import infer_role, role_problems  # noqa: E402
from verifier.core.gau.tree import GAUTree, TreeError  # noqa: E402
from verifier.core.seeds import available_seeds, load_seed  # noqa: E402

MODES = ("mutation", "crossover", "scratch")


def legacy_operators(rev: str) -> ModuleType:
    """verifier/core/gau/operators.py as it was at `rev`, imported beside today's modules."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:verifier/core/gau/operators.py"],
                            check=True, capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("verifier.core.gau._legacy_operators", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "verifier.core.gau"
    sys.modules[spec.name] = module  # dataclasses look their module up there
    exec(compile(source, f"<operators at {rev}>", "exec"), module.__dict__)  # trusted: our own history
    return module


class Recording:
    """The operators, remembering which tree each design started from (to judge the swap's roles)."""

    def __init__(self, operators: Any):
        self.operators = operators
        self.base: GAUTree | None = None

    def random_mutation(self, tree: GAUTree, pool: list[GAUTree], rng: random.Random) -> GAUTree:
        self.base = tree
        return self.operators.random_mutation(tree, pool, rng)

    def crossover(self, a: GAUTree, b: GAUTree, rng: random.Random) -> GAUTree:
        self.base = a
        return self.operators.crossover(a, b, rng)


def swap_problems(child: GAUTree, base: GAUTree, seeds: dict[str, GAUTree]) -> list[str]:
    target, donor = child.metadata.get("target"), str(child.metadata.get("donor", ""))
    tree_name, _, unit = donor.partition(".")
    if not target or tree_name not in seeds:
        return []
    was, now = infer_role(base, target).role, infer_role(seeds[tree_name], unit).role
    return [] if was == now else [f"a swap changed the role: {was} -> {now} ({target} -> {donor})"]


def make_designs(n: int, seed: int, operators: Any) -> list[dict[str, Any]]:
    seeds = {name: load_seed(name) for name in available_seeds()}
    rng = random.Random(seed)
    recording = Recording(operators)
    out = []
    for i in range(n):
        mode = rng.choice(MODES)
        names = {"mutation": 1, "crossover": 2, "scratch": 0}[mode]
        parents = [seeds[s].copy() for s in rng.sample(sorted(seeds), names)]
        pool = [t.copy() for s, t in seeds.items() if s not in {p.name for p in parents}]
        row: dict[str, Any] = {"i": i, "mode": mode, "parents": [p.name for p in parents]}
        try:
            child = _operate(parents, mode, pool, rng, operators=recording)
        except TreeError as exc:
            row.update(failed=str(exc)[:200])
            out.append(row)
            continue
        row["tree"] = child
        row["name"] = child.name
        try:
            compose(child)
            row["composes"] = True
        except (TreeError, SyntaxError) as exc:
            row.update(composes=False, compose_error=str(exc)[:200])
        assert recording.base is not None
        roles = swap_problems(child, recording.base, seeds) + role_problems(child)
        problems = roles + inconsistent_declarations(child)
        row["problems"] = problems
        row["role_consistent"] = not [p for p in roles if "declaration" not in p]
        row["sensible"] = row["composes"] and not problems
        out.append(row)
    return out


def check_designs(rows: list[dict[str, Any]], how: str, workers: int) -> None:
    if how == "none":
        return
    designs = {r["tree"].content_hash(): r["tree"] for r in rows if r.get("composes")}
    stages = ("static", "runtime") if how == "runtime" else ("static",)
    with tempfile.TemporaryDirectory(prefix="bench-gp-") as cache:
        config = CheckConfig(d_model=32, seq_len=32, batch_size=2, train_steps=12, timeout_s=60,
                             compare_with_reference=False, cache_dir=cache)

        def one(item: tuple[str, GAUTree]) -> tuple[str, dict[str, Any]]:
            key, tree = item
            report = run_checks(tree, config, stages=stages)
            errors = [f for f in report.findings if f.severity == ERROR]
            others = [f for f in errors if f.category != NO_MIXING]
            mixing = report.stages.get("mixing")
            return key, {"valid": report.passed, "categories": sorted({f.category for f in errors}),
                         "valid_without_mixing": not others and (report.passed or (
                             mixing is not None and mixing.passed is False))}

        with ThreadPoolExecutor(max_workers=workers) as pool:
            verdicts = dict(pool.map(one, designs.items()))
    for r in rows:
        if r.get("composes"):
            r.update(verdicts[r["tree"].content_hash()])


def summarise(rows: list[dict[str, Any]], checked: bool) -> dict[str, Any]:
    made = [r for r in rows if "tree" in r]
    summary: dict[str, Any] = {
        "designs": len(rows),
        "operator_failed": len(rows) - len(made),
        "composes": sum(bool(r.get("composes")) for r in made),
        "distinct": len({r["tree"].content_hash() for r in made}),
        "role_consistent_swap_and_mixer": sum(bool(r.get("role_consistent")) for r in made),
        "sensible": sum(bool(r.get("sensible")) for r in made),
    }
    if checked:
        summary["checker_valid"] = sum(bool(r.get("valid")) for r in made)
        summary["valid_without_mixing_stage"] = sum(bool(r.get("valid_without_mixing")) for r in made)
        summary["valid_and_sensible"] = sum(bool(r.get("valid") and r.get("sensible")) for r in made)
        summary["failure_categories"] = dict(Counter(c for r in made for c in r.get("categories", [])))
    summary["problems"] = dict(Counter(_kind(p) for r in made for p in r.get("problems", [])).most_common(10))
    return summary


def _kind(problem: str) -> str:
    if problem.startswith("a swap changed"):
        return problem.split(" (")[0]
    if "declares" in problem:
        return "code declares other children than it uses"
    if "declaration describes" in problem:
        return "a declaration describes another kind of unit"
    return problem


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--operators", choices=("current", "legacy"), default="current")
    parser.add_argument("--legacy-rev", default="31cf43c", help="commit whose operators.py is 'before'")
    parser.add_argument("--check", choices=("runtime", "static", "none"), default="runtime")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the summary and per-design rows here")
    args = parser.parse_args()

    operators = current_operators if args.operators == "current" else legacy_operators(args.legacy_rev)
    start = time.perf_counter()
    rows = make_designs(args.n, args.seed, operators)
    made = time.perf_counter() - start
    check_designs(rows, args.check, args.workers)
    summary = summarise(rows, checked=args.check != "none")
    summary.update(operators=args.operators if args.operators == "current" else f"legacy@{args.legacy_rev}",
                   check=args.check, seconds_making=round(made, 1),
                   seconds_total=round(time.perf_counter() - start, 1))
    print(json.dumps(summary, indent=2))
    if args.json:
        slim = [{k: v for k, v in r.items() if k != "tree"} for r in rows]
        Path(args.json).write_text(json.dumps({"summary": summary, "designs": slim}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
