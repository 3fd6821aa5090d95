"""Synthetic evolution histories for `manage.py demo_history`, and for tests and the benchmark.

Everything goes through the real services (designer results, verification reports). The designs are
mutations and crossovers of the seeds with small, valid code edits; the reports are made up but
shaped like the verification engine's. Nothing here runs design code.

What the command makes is marked: origin "demo" (a badge on every page, `Design.objects.real()` leaves
it out of the leaderboard, charts, reports and selection), and the real seeds get no made-up
verifications. Only tests, in their own database, build an unmarked history (`demo=False`) to fill
the pages that analytics feed.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

from django.db import transaction

from designer.core.result import Cost, DesignerResult
from evolution.models import Design, Verification
from evolution.services.designs import create_design_from_result
from evolution.services.seeding import seed_designs
from evolution.services.verifications import record_report
from verifier.core.gau.tree import GAUTree, TreeError

TASKS = {"lambada_openai": 0.0, "hellaswag": 0.25, "piqa": 0.5, "arc_easy": 0.25, "winogrande": 0.5}  # chance
_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+|\d+)(?![\w.])")
WORDS = ("Gated", "Sparse", "Rotary", "Hybrid", "Linear", "Selective", "Chunked", "Local", "Dual", "Adaptive",
         "Retentive", "Mixture", "Kernel", "Shifted", "Fused", "Dynamic")
NOUNS = ("Mixer", "Former", "Net", "Block", "Attention", "Recurrence", "Memory", "Scan", "Gate", "Flow")


@dataclass
class DemoStats:
    designs: int = 0
    verifications: int = 0


def mutate(tree: GAUTree, rng: random.Random, tag: str) -> GAUTree:
    """A copy with one unit's code edited: a constant changed and a comment naming the edit."""
    child = tree.copy()
    name = rng.choice(child.implemented())
    node = child.units[name]
    lines = node.code.splitlines()
    candidates = [i for i, line in enumerate(lines) if _NUMBER.search(line) and not line.lstrip().startswith(("#", "@"))
                  and "block_loc" not in line and "range(" not in line]
    if candidates:
        i = rng.choice(candidates)
        lines[i] = _NUMBER.sub(lambda m: _nudge(m.group(0), rng), lines[i], count=1)
    lines.append(f"# {tag}: edited by the demo designer")
    node.code = "\n".join(lines) + "\n"
    return child


def _nudge(text: str, rng: random.Random) -> str:
    return str(_nudge_value(float(text) if "." in text else int(text), rng))


def _nudge_value(value, rng: random.Random):
    if isinstance(value, int):
        return max(1, value + rng.choice((-1, 1, 2)))
    return round(value * rng.uniform(0.7, 1.3), 4)


def crossover(a: GAUTree, b: GAUTree, rng: random.Random) -> GAUTree | None:
    """Graft a subtree of `b` in place of a non-root unit of `a`; None when the graft is not valid."""
    targets = [n for n in a.implemented() if n != a.root]
    donors = [n for n in b.implemented() if n != b.root]
    if not targets or not donors:
        return None
    try:
        child = a.replace_subtree(rng.choice(targets), b, rng.choice(donors))
        child.check()
        return child
    except (TreeError, SyntaxError, KeyError):
        return None


# Examples per task in the full evaluation sets (what a GPU rung scores; CPU rungs use a limit).
TASK_SIZES = {"lambada_openai": 5153, "hellaswag": 10042, "piqa": 1838, "arc_easy": 2376, "winogrande": 1267}


def fake_report(rung: str, fitness: float, rng: random.Random, steps: int = 40, design_hash: str = "demo") -> dict:
    """Shaped like `VerificationReport.to_dict()` and consistent as a real one is (the parent audits
    it): accuracies are whole numbers of documents with lm-eval's stderr, fitness is the mean
    accuracy above chance, bpb follows from the loss; only the rung's own tasks, within its limits."""
    from evolution.core.ladder import rung as rung_info
    from verifier.core.train.ladder import get_rung, stock_name

    info = rung_info(rung)
    rung_def = get_rung(rung)
    target = info.params if info else 1_200_000
    tokens = info.tokens if info else steps * 50 * 2**19
    cpu = bool(info and info.device == "cpu")
    start, end = rng.uniform(9.5, 10.5), 3.4 + (0.1 - fitness) * 6 + rng.uniform(-0.05, 0.05)
    curve = [{"step": s * 50, "tokens": round(tokens * s / max(1, steps - 1)),
              "loss": round(end + (start - end) * math.exp(-s / 7) + rng.uniform(-0.03, 0.03), 4)} for s in range(steps)]
    rung_tasks = {stock_name(t) for t in rung_def.tasks}
    evals, scores = {}, {}
    for t, chance in TASKS.items():
        if t not in rung_tasks:
            continue
        limit = rung_def.limit_for(t + "_local")
        n = min(TASK_SIZES[t], limit) if limit is not None else TASK_SIZES[t]
        correct = round(n * min(0.99, chance + max(-0.02, fitness * rng.uniform(0.5, 1.5))))
        acc = correct / n
        logprob = -(1.3 - fitness) + rng.uniform(-0.02, 0.02)
        evals[t] = {"acc": acc, "acc_stderr": math.sqrt(acc * (1 - acc) / (n - 1)), "samples": n, "docs": n,
                    "logprob_per_byte": logprob, "logprob_per_byte_stderr": 0.02,
                    "margin": fitness - 0.05 + rng.uniform(-0.02, 0.02), "margin_stderr": 0.03}
        scores[t] = acc - chance
    total = round(rng.uniform(400, 900), 1)
    val_loss = curve[-1]["loss"] + 0.04
    return {
        "format": "genesys.verification-report/1", "design_name": "demo", "design_hash": design_hash,
        "rung": rung, "status": "done",
        "fitness": sum(scores.values()) / len(scores), "loss_curve": curve,
        "final_train_loss": curve[-1]["loss"], "val_loss": val_loss, "val_perplexity": math.exp(val_loss),
        "val_bpb": val_loss / math.log(2) / 4.2, "val_bytes_per_token": 4.2, "eval": evals, "task_scores": scores,
        "shape": {"d_model": 128, "n_block": 6, "non_embedding_params": int(target * rng.uniform(0.85, 1.15)),
                  "target_params": target},
        "device": "cpu (2 threads)" if cpu else "cuda (NVIDIA H100 80GB HBM3)",
        "data": {"corpus": "corpora/gutenberg", "tokenizer": "tokenizers/llama2", "vocab_size": 32000},
        "wall_time_s": {"train": round(total * 0.8, 1), "eval": round(total * 0.2, 1), "total": total}, "error": "",
    }


def _rating(score: int) -> dict:
    """The observer's rating, shaped as the implementer records it."""
    return {"rating": score, "quality": score, "adherence": min(5, score + 1), "novelty": max(1, score - 1),
            "comments": "Demo observer: the unit follows the proposal."}


def _name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = f"{rng.choice(WORDS)}{rng.choice(NOUNS)}-{rng.randint(100, 999)}"
        if name not in taken:
            taken.add(name)
            return name


def build_history(n_designs: int = 60, seed: int = 0, verify_fraction: float = 0.6,
                  rung: str = "14M", demo: bool = True) -> DemoStats:
    """Seeds, then `n_designs` designed descendants; a fraction verified at `rung` with reports.

    `demo` (the default, and all the command makes) marks every made-up design as demo and leaves the
    seeds unverified; `demo=False` is for tests only."""
    with transaction.atomic():  # one transaction: a thousand designs in seconds, not minutes
        return _build(n_designs, random.Random(seed), verify_fraction, rung, demo)


def _build(n_designs: int, rng: random.Random, verify_fraction: float, rung: str, demo: bool) -> DemoStats:
    seed_designs(check=False)
    pool = list(Design.objects.exclude(tree=None).order_by("id"))
    trees = {d.id: GAUTree.from_dict(d.tree) for d in pool}
    stats = DemoStats()
    for d in pool:
        if d.is_seed and not demo and not d.verifications.exists():
            _verify(d, rung, rng, stats, base=0.08)
    taken = set(Design.objects.values_list("name", flat=True))
    for _ in range(n_designs):
        # Prefer recent, fit parents, as the search does.
        weights = [1.0 + 4.0 * i / len(pool) + 40.0 * max(0.0, (p.fitness or 0.08) - 0.08) for i, p in enumerate(pool)]
        parent = rng.choices(pool, weights=weights)[0]
        name = _name(rng, taken)
        tree, parents, mode = None, [parent], "mutation"
        if rng.random() < 0.2 and len(pool) > 1:
            other = rng.choice([p for p in pool if p.id != parent.id])
            tree = crossover(trees[parent.id], trees[other.id], rng)
            if tree is not None:
                parents, mode = [parent, other], "crossover"
        if tree is None:
            tree = mutate(trees[parent.id], rng, name)
        tree.name = name
        failed = rng.random() < 0.08
        result = DesignerResult(
            mode=mode, parents=[p.name for p in parents], status="failed" if failed else "implemented",
            origin={"kind": "demo" if demo else "llm", "made_by": "demo_history",
                    "models": {"proposer": "claude-sonnet", "reviewer": "gpt-4o", "implementer": "o3"}},
            tree=None if failed else tree, name=name,
            proposal={"title": f"{name}: {mode} of {' × '.join(p.name for p in parents)}",
                      "motivation": "Demo proposal: a small, targeted change to one unit.",
                      "pseudocode": "Y = unit(X) with one constant changed"},
            review_rounds=[{"round": 1, "review": "Plausible and novel enough.", "score": round(rng.uniform(3, 4.8), 1),
                            "passed": True}],
            trace=[{"unit": tree.root, "attempt": 1, "rating": _rating(rng.randint(3, 5)), "passed": not failed,
                    "findings": [] if not failed else [{"category": "causality", "severity": "error",
                                                        "unit": tree.root, "line": 12,
                                                        "message": "output at t depends on input t+1"}]}],
            check_report={"passed": not failed, "findings": [] if not failed else [
                {"category": "causality", "severity": "error", "unit": tree.root, "line": 12,
                 "message": "output at t depends on input t+1"}], "figures": {"params": 14_000_000}},
            failure="the implementation kept failing the causality check" if failed else None,
            cost=Cost(tokens_in=rng.randint(20_000, 90_000), tokens_out=rng.randint(3_000, 12_000),
                      dollars=round(rng.uniform(0.2, 1.5), 2), seconds=round(rng.uniform(60, 400), 1)),
        )
        design = create_design_from_result(result, parents)
        stats.designs += 1
        if not failed:
            pool.append(design)
            trees[design.id] = tree
            if rng.random() < verify_fraction:
                base = (parents[0].fitness or 0.08) + rng.gauss(0.001, 0.008)
                _verify(design, rung, rng, stats, base=base)
    return stats


def _verify(design: Design, rung: str, rng: random.Random, stats: DemoStats, base: float) -> None:
    verification = Verification.objects.create(design=design, rung=rung, rung_index=_index(rung))
    record_report(verification, fake_report(rung, min(0.4, max(0.0, base)), rng, design_hash=design.tree_hash))
    design.refresh_from_db()
    stats.verifications += 1


def _index(rung: str) -> int:
    from evolution.core.ladder import rung_index

    return rung_index(rung)
