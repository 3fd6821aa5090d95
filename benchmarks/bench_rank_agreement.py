"""Does the cheap bottom of the ladder rank designs the way the rungs above do?

    python benchmarks/bench_rank_agreement.py --out DIR [--gp N] [--tiny] [--rungs screen,micro]

Designs: the five seeds plus N designs made by the GP operators (verifier/core/gau/operators.py)
from a fixed RNG seed. Each design is verified at the screen (score, higher is better), at micro
(validation loss, `--no-eval`) and, with --tiny, at tiny; every run is a child process whose
report is cached under DIR/<rung>/<design>/report.json, so the benchmark resumes where it stopped
(`--no-run micro,tiny` only reads those rungs' cached reports, e.g. ones copied from another run).
`--loop-designs` adds the designs a real run made (benchmarks/export_loop_designs.py writes them and
their screen reports into DIR). Several processes may fill one DIR at once: each skips a design
another live process is running. Functional clones (identical screen numbers) run once, count once.

Prints Spearman's rho with a bootstrap 95% interval (over designs) for screen vs micro, screen vs
tiny and micro vs tiny (losses negated, so a positive rho means agreement), and for the seeds each
rung's ranking against the published ordering of these architectures at 125M-1.3B (PUBLISHED
below, with its sources). And the funnel view, which is what a screen is for: of the top rung's best
quarter, how many each rung below keeps in its own top quarter and top half (against chance).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from verifier.core.screen.child import run_child  # noqa: E402
from verifier.core.screen.run import rescore  # noqa: E402
from verifier.core.train.ladder import EXTRA_RUNGS, LADDER, get_rung  # noqa: E402
from verifier.core.train.report import VerificationReport  # noqa: E402

SEEDS = ("gpt", "mamba2", "retnet", "rwkv6", "ttt")

# Published ordering of the seed architectures at 125M or more, best first. No single table trains
# all five on the same data, so it is stitched from pairwise comparisons, each from one table:
# - Mamba-2 paper (Dao & Gu 2024, arXiv 2405.21060), Table 10 (Pile, same data and tokenizer):
#   Pile ppl Mamba-2-370M 8.21 vs Pythia-410M 9.95 (a GPT-style Transformer); 130M: 10.48 vs 29.64.
# - GLA paper (Yang et al. 2023, arXiv 2312.06635), Table 2 (340M, 15B SlimPajama tokens):
#   Wiki ppl Transformer++ 28.39, Mamba 28.39, RetNet 32.33 (1.3B/100B: 16.85, 17.06, 18.64).
# - RWKV-6 paper (Peng et al. 2024, arXiv 2404.05892), Table 4 (English benchmarks): LAMBADA ppl
#   Finch-1.6B 4.67 vs Pythia-1.4B 6.22 (avg acc 65.7 vs 61.9); Mamba-1.4B 5.05 (65.8), a tie with
#   Finch on accuracy. Different training data (RWKV World v2 vs the Pile).
# - TTT paper (Sun et al. 2024, arXiv 2407.04620), Fig. 11 and Table 1 (Pile, 2k context, 125M-1.3B):
#   TTT-Linear matches or beats the Transformer (11.09 ppl at 125M), close to Mamba.
# The total order below (best first) follows the pairs; mamba2 vs rwkv6 and rwkv6 vs ttt are not
# settled by any table, so rho against the total order is indicative; the pair count is the check.
PUBLISHED = ("mamba2", "rwkv6", "ttt", "gpt", "retnet")
PUBLISHED_PAIRS = (
    ("mamba2", "gpt", "Mamba-2 Table 10"), ("gpt", "retnet", "GLA Table 2"),
    ("mamba2", "retnet", "GLA Table 2 (Mamba)"), ("rwkv6", "gpt", "RWKV-6 Table 4 (Pythia)"),
    ("ttt", "gpt", "TTT Fig. 11"),
)

from evolution.core.ranks import average_ranks  # noqa: E402
from evolution.core.ranks import spearman as rank_spearman  # noqa: E402

# ---- statistics ---------------------------------------------------------------------------------

def ranks(values: list[float]) -> list[float]:
    """Average ranks (1 = smallest), ties sharing their mean rank (evolution.core.ranks)."""
    return average_ranks(values)


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rho as the dashboard computes it (evolution.core.ranks); NaN where it is undefined."""
    rho = rank_spearman(x, y)
    return math.nan if rho is None else rho


def bootstrap_interval(x: list[float], y: list[float], iters: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile 95% interval of rho over designs resampled with replacement."""
    rng = random.Random(seed)
    n = len(x)
    values = []
    for _ in range(iters):
        idx = [rng.randrange(n) for _ in range(n)]
        r = spearman([x[i] for i in idx], [y[i] for i in idx])
        if math.isfinite(r):
            values.append(r)
    if not values:
        return math.nan, math.nan
    values.sort()
    return values[int(0.025 * (len(values) - 1))], values[int(0.975 * (len(values) - 1))]


# ---- designs ------------------------------------------------------------------------------------

def make_designs(out: Path, n_gp: int, rng_seed: int, loop_designs: bool = False,
                 parents_from: list[Path] | None = None) -> list[Path]:
    """The seeds, `n_gp` GP designs (mutations and crossovers of seeds) and, with `loop_designs`,
    the designs a real loop made (DIR/designs/loop-*.json, from benchmarks/export_loop_designs.py).

    With `parents_from` (evidence folders), the GP parents are the seeds and those folders' designs:
    a second generation, as the loop breeds children of children; those designs are named g2-NN so
    they never share a name with the first generation's gpNN."""
    from verifier.core.gau.operators import OperatorError, crossover, random_mutation
    from verifier.core.gau.tree import GAUTree
    from verifier.core.seeds import load_seed

    folder = out / "designs"
    folder.mkdir(parents=True, exist_ok=True)
    seeds = {name: load_seed(name) for name in SEEDS}
    paths = []
    for name, tree in seeds.items():
        path = folder / f"{name}.json"
        if not path.exists():
            path.write_text(tree.to_json())
        paths.append(path)
    parents = dict(seeds)
    for evidence in parents_from or []:
        for design in sorted((evidence / "designs").glob("*.json")):
            if design.stem not in SEEDS:
                parents[f"{evidence.name}/{design.stem}"] = GAUTree.from_json(design.read_text())
    names, prefix = list(parents), ("g2-" if parents_from else "gp")
    rng = random.Random(rng_seed)
    made, attempts = 0, 0
    while made < n_gp and attempts < 20 * max(1, n_gp):
        attempts += 1
        path = folder / f"{prefix}{made:02d}.json"
        # Drawn even when the file is kept (from an evidence folder, say), so the designs after it
        # are the same stream whichever of them are already on disk.
        a, b = rng.sample(names, 2)
        try:
            if rng.random() < 0.5:
                tree = random_mutation(parents[a], list(seeds.values()), rng)
            else:
                tree = crossover(parents[a], parents[b], rng)
        except (OperatorError, ValueError):
            continue
        if not path.exists():
            path.write_text(tree.to_json())
        paths.append(path)
        made += 1
    if loop_designs:
        paths += sorted(folder.glob("loop-*.json"), key=lambda p: design_order(p.stem))
    return paths


def fresh_designs(designs: list[Path], against: list[Path]) -> list[Path]:
    """The designs that are new against earlier sets (each `against`/designs/*.json and the five
    seeds), by tree content hash: no seed, no tree an earlier set has, each tree once. A fresh set
    tests a screen on designs that did not choose it."""
    from verifier.core.gau.tree import GAUTree
    from verifier.core.seeds import load_seed

    seen = {load_seed(name).content_hash() for name in SEEDS}
    for earlier in against:
        seen |= {GAUTree.from_json(p.read_text()).content_hash() for p in sorted((earlier / "designs").glob("*.json"))}
    fresh = []
    for path in designs:
        digest = GAUTree.from_json(path.read_text()).content_hash()
        if digest not in seen:
            seen.add(digest)
            fresh.append(path)
    return fresh


def design_order(name: str) -> tuple[int, int, str]:
    """The benchmark's order of designs: the seeds, then the loop's designs by number, then the rest
    by name (a near clone is counted as the earlier design)."""
    if name in SEEDS:
        return 0, SEEDS.index(name), name
    number = name.split("-")[-1]
    return (1, int(number), name) if name.startswith("loop-") and number.isdigit() else (2, 0, name)


# ---- runs ---------------------------------------------------------------------------------------

def claim(folder: Path) -> bool:
    """Take `folder` for this process, so several benchmark processes can fill one cache side by side
    (each skips what another is running): False when another live process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / "running.pid"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            os.kill(int(lock.read_text() or "0"), 0)
            return False  # its process is alive
        except (OSError, ValueError):
            lock.unlink(missing_ok=True)  # a dead process's claim
            return claim(folder)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


FINAL = ("done", "failed")  # a report's statuses that end a run (kept as evidence, never rerun)


def finished(report_path: Path) -> bool:
    """Is there a final report (done or failed)? An interrupted run is not finished: run again, verify
    resumes it from its checkpoint."""
    try:
        return json.loads(report_path.read_text()).get("status") in FINAL
    except (OSError, ValueError, AttributeError):
        return False


def run_rung(design: Path, rung: str, out: Path, timeout_s: float, extra: list[str],
             run: bool = True, device: str = "cpu") -> VerificationReport | None:
    """The cached report of `design` at `rung`, running it first when there is none (and `run`)."""
    folder = out / rung / design.stem
    report_path = folder / "report.json"
    if not finished(report_path) and run and claim(folder):
        argv = ["verify", str(design), "--rung", rung, "--out", str(folder), "--quiet", "--device", device, *extra]
        if not is_screen(rung):
            argv.append("--no-eval")
        try:
            child = run_child(argv, folder / "log.txt", timeout_s)
        finally:
            (folder / "running.pid").unlink(missing_ok=True)
        figures = dict(child.__dict__)
        try:  # the sandboxed run's own CPU time: behind bubblewrap it does not reach our rusage
            from evolution.core.cpu_time import verification_cpu

            figures["cpu_s"] = round(verification_cpu(child.cpu_s, json.loads(report_path.read_text()),
                                                      child.wall_s), 3)
        except (OSError, ValueError):
            pass
        (folder / "child.json").write_text(json.dumps(figures))
        print(f"  {design.stem} @ {rung}: {figures['cpu_s']:.0f} CPU-s, {child.wall_s:.0f} s wall", flush=True)
    try:
        return VerificationReport.read(report_path)
    except (OSError, ValueError):
        return None


# ---- evidence kept in the repository -----------------------------------------------------------

EVIDENCE_CURVE_POINTS = 50  # a kept report's loss curve, downsampled (the full one is in the cache)


def load_evidence(evidence: Path, out: Path) -> int:
    """Copy what `evidence` holds (designs/*.json, <rung>/<design>/report.json) into the cache `out`
    where the cache has nothing yet: runs made on another machine (a CPU box, a lent GPU) count
    here without being run again. Returns the number of files copied."""
    copied = 0
    if not evidence.is_dir():
        return 0
    for path in sorted(evidence.rglob("*.json")):
        rel = path.relative_to(evidence)
        if rel.parts[0] != "designs" and rel.name != "report.json":
            continue
        target = out / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text())
            copied += 1
    return copied


def save_evidence(out: Path, evidence: Path, designs: list[Path], rungs: list[str]) -> int:
    """Write the cache's loop designs and finished reports of these designs into `evidence`
    (loss curves downsampled): small enough to keep in the repository, so the measurement grows
    from session to session and machine to machine. Returns the number of reports kept."""
    kept = 0
    for design in designs:
        if design.stem not in SEEDS:  # the seeds are made from the code; every other design is kept
            target = evidence / "designs" / design.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(design.read_text())
        for rung in rungs:
            path = out / rung / design.stem / "report.json"
            if not path.exists():
                continue
            data = json.loads(path.read_text())
            if data.get("status") not in FINAL:
                continue
            keep_report(path, evidence / rung / design.stem / "report.json")
            kept += 1
    return kept


def keep_report(path: Path, target: Path) -> None:
    """Write a cached report as the evidence keeps it: its loss curve downsampled (the full one stays
    in the cache), with the run's wall time as the benchmark measured it."""
    from verifier.core.train.report import downsample

    data = json.loads(path.read_text())
    data["loss_curve"] = downsample(data.get("loss_curve") or [], EVIDENCE_CURVE_POINTS)
    child = path.with_name("child.json")
    if child.exists():
        data.setdefault("wall_time_s", {})["benchmark_child"] = json.loads(child.read_text()).get("wall_s")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def is_screen(rung: str) -> bool:
    """A screen rung (the ladder's `screen`, or an earlier screen kept to re-read its reports)."""
    try:
        return get_rung(rung).kind == "screen"
    except KeyError:
        return False


def metric(report: VerificationReport | None, rung: str) -> float | None:
    """Higher is better: the screen score (recomputed from raw components with `rung`'s own
    definition), or minus val loss."""
    if report is None or not report.ok:
        return None
    if is_screen(rung):
        return rescore(report.components, rung)[1]
    return -report.val_loss if report.val_loss is not None else None


def screen_parts(report: VerificationReport | None, rung: str = "screen") -> dict[str, float | None]:
    """The screen's two halves on their own: minus its bpb, and the mean probe value."""
    if report is None or not report.ok:
        return {f"{rung}:lm": None, f"{rung}:probes": None}
    components = rescore(report.components, rung)[0]
    bpb = components.get("lm_bpb", {}).get("bpb")
    probes = [c["value"] for n, c in components.items() if n.startswith("probe_") and c["value"] is not None]
    return {f"{rung}:lm": -bpb if bpb is not None else None,
            f"{rung}:probes": sum(probes) / len(probes) if probes else None}


def functional_clones(table: dict[str, dict[str, float | None]], rungs: list[str]) -> dict[str, str]:
    """{later design: earlier design} for designs whose values at `rungs` are all identical to an
    earlier design's: the same function under another tree (e.g. GPT with RetNet's units is RetNet); kept,
    they would count one point twice and inflate rho."""
    seen: dict[tuple, str] = {}
    clones: dict[str, str] = {}
    for name, row in table.items():
        values = tuple(row.get(r) for r in rungs)
        if all(v is None for v in values):
            continue
        if values in seen:
            clones[name] = seen[values]
        else:
            seen[values] = name
    return clones


# bpb / nats, far below seed noise: every screen rung's bpb half, and the validation loss above
NEAR_CLONE_TOL = {**{f"{name}:lm": 1e-4 for name in (*LADDER, *EXTRA_RUNGS) if get_rung(name).kind == "screen"},
                  "micro": 1e-3, "tiny": 1e-3}


def near_clones(table: dict[str, dict[str, float | None]], tol: dict[str, float] | None = None) -> dict[str, str]:
    """{later design: earlier design} for designs whose language-model numbers (screen bpb, the
    validation losses above) all agree within `tol`: the same mathematics in another implementation
    (GPT with another seed's equivalent SwiGLU or rotary unit). Float-level differences keep them
    apart in the exact comparison, and the screen's probes, which sit at learning phase transitions,
    can still differ (selective copying 0.33 / 0.28 / 0.20 for three such GPTs); counted once, they
    stop inflating n. Designs need at least two of the numbers to be compared."""
    tol = tol or NEAR_CLONE_TOL
    kept: list[str] = []
    out: dict[str, str] = {}
    for name, row in table.items():
        keys = [k for k in tol if isinstance(row.get(k), (int, float))]
        twin = next((k for k in kept if len(keys) >= 2 and all(
            isinstance(table[k].get(key), (int, float)) and abs(table[k][key] - row[key]) <= tol[key]  # type: ignore[operator]
            for key in keys)), None)
        if twin is None:
            kept.append(name)
        else:
            out[name] = twin
    return out


def agreement(table: dict[str, dict[str, float | None]], a: str, b: str) -> str:
    names = [n for n, row in table.items() if row.get(a) is not None and row.get(b) is not None]
    x = [float(table[n][a]) for n in names]  # type: ignore[arg-type]
    y = [float(table[n][b]) for n in names]  # type: ignore[arg-type]
    rho = spearman(x, y)
    lo, hi = bootstrap_interval(x, y) if len(names) >= 3 else (math.nan, math.nan)
    return f"rho({a}, {b}) = {rho:+.3f}  95% CI [{lo:+.3f}, {hi:+.3f}]  n = {len(names)}"


def top(values: dict[str, float], k: int) -> set[str]:
    """The k best (highest) names, with every name tied with the k-th best: a cut never splits a tie."""
    if k <= 0 or not values:
        return set()
    cutoff = sorted(values.values(), reverse=True)[min(k, len(values)) - 1]
    return {n for n, v in values.items() if v >= cutoff}


def top_recall(table: dict[str, dict[str, float | None]], predictor: str, target: str, k: int,
               keep: int) -> tuple[int, int, int, int]:
    """A screen's job in a funnel is to pass the winners on: of the target rung's top k designs, how
    many are in the predictor's top `keep`. Returns (found, of, the cut's size with ties, n)."""
    names = [n for n, row in table.items() if row.get(predictor) is not None and row.get(target) is not None]
    best = top({n: float(table[n][target]) for n in names}, k)  # type: ignore[arg-type]
    kept = top({n: float(table[n][predictor]) for n in names}, keep)  # type: ignore[arg-type]
    return len(best & kept), len(best), len(kept), len(names)


def chance_of_at_least(found: int, best: int, kept: int, n: int) -> float:
    """P(a random cut of `kept` of n designs holds at least `found` of the `best`): hypergeometric."""
    total = math.comb(n, kept)
    return sum(math.comb(best, x) * math.comb(n - best, kept - x)
               for x in range(found, min(best, kept) + 1)) / total if total else math.nan


def recall_lines(table: dict[str, dict[str, float | None]], rungs: list[str], target: str) -> list[str]:
    """For each predictor: the target's top quarter found in its top quarter and in its top half."""
    lines = []
    for predictor in (r for r in rungs if r != target):
        n = sum(1 for row in table.values() if row.get(predictor) is not None and row.get(target) is not None)
        if n < 4:
            continue
        k = math.ceil(n / 4)
        parts = []
        for keep in (k, math.ceil(n / 2)):
            found, of, cut, _ = top_recall(table, predictor, target, k, keep)
            chance, p_value = of * cut / n, chance_of_at_least(found, of, cut, n)
            parts.append(f"{found}/{of} in its top {keep} (chance {chance:.1f}, p {p_value:.2g})")
        lines.append(f"{target}'s top {k} passed by {predictor:13}: " + "; ".join(parts) + f"  n = {n}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="cache folder (resumable)")
    p.add_argument("--gp", type=int, default=0, help="GP-operator designs to add to the seeds")
    p.add_argument("--rng-seed", type=int, default=0)
    p.add_argument("--tiny", action="store_true", help="also run the tiny rung")
    p.add_argument("--rungs", default=None, help="comma-separated rungs (default screen,micro[,tiny])")
    p.add_argument("--timeout", type=float, default=3600.0, help="wall seconds per run")
    p.add_argument("--set", action="append", default=[], help="passed to every verify run")
    p.add_argument("--seed", type=int, default=None,
                   help="training seed of every run (verify --seed; default its own, 42): a second seed's "
                        "numbers go to a cache of their own (--out), never beside the first's")
    p.add_argument("--loop-designs", action="store_true",
                   help="add the loop's designs exported to DIR by benchmarks/export_loop_designs.py")
    p.add_argument("--no-run", default="", help="comma-separated rungs read from the cache only (never run)")
    p.add_argument("--device", action="append", default=[], metavar="RUNG=DEVICE",
                   help="where a rung runs (default cpu), e.g. --device micro=cuda --device tiny=cuda")
    p.add_argument("--jobs", type=int, default=1, help="designs run side by side per rung (default 1)")
    p.add_argument("--evidence", type=Path, default=None,
                   help="a folder kept in the repository (benchmarks/evidence/rank_agreement): its designs "
                        "and reports seed the cache, and the finished reports are written back to it")
    p.add_argument("--json", type=Path, default=None, help="write the table and the agreements here")
    p.add_argument("--skip-near-clones", action="store_true",
                   help="do not run a rung for designs whose numbers at the rungs before it (given first in "
                        "--rungs, e.g. screen,micro,tiny) make them near clones of an earlier design")
    p.add_argument("--max-designs", type=int, default=None, help="only the first N designs (seeds first)")
    p.add_argument("--fresh-against", type=Path, action="append", default=[], metavar="EVIDENCE",
                   help="only designs new against that evidence folder's set (by tree hash; no seeds): "
                        "a second set to test a screen chosen on the first (repeatable)")
    p.add_argument("--gp-parents", type=Path, action="append", default=[], metavar="EVIDENCE",
                   help="GP parents are the seeds and that evidence folder's designs (repeatable): a second "
                        "generation, named g2-NN")
    args = p.parse_args(argv)
    rungs = args.rungs.split(",") if args.rungs else ["screen", "micro", *(["tiny"] if args.tiny else [])]
    extra = [x for item in args.set for x in ("--set", item)] + (["--seed", str(args.seed)] if args.seed is not None else [])
    cached_only = {r for r in args.no_run.split(",") if r}
    devices = dict(item.split("=", 1) for item in args.device)
    if args.evidence is not None:
        print(f"evidence {args.evidence}: {load_evidence(args.evidence, args.out)} files copied into the cache")
    designs = make_designs(args.out, args.gp, args.rng_seed, args.loop_designs, args.gp_parents)
    if args.fresh_against:
        designs = fresh_designs(designs, args.fresh_against)
    designs = designs[:args.max_designs]
    table: dict[str, dict[str, float | None]] = {}
    kept = 0
    # The screen is deterministic, so designs with identical screen numbers compute the same function:
    # they are run once at the rungs above (and counted once).
    screens = [r for r in rungs if is_screen(r)]
    clone_key = [x for r in screens[:1] for x in (r, f"{r}:lm", f"{r}:probes")] or rungs
    for rung in rungs:
        skip = (functional_clones({d.stem: table.get(d.stem, {}) for d in designs}, clone_key)
                if not is_screen(rung) else {})
        if args.skip_near_clones and rung not in cached_only:
            # Counted once in the end, so not run either: the rungs below already show them equal.
            near = near_clones({d.stem: {k: v for k, v in table.get(d.stem, {}).items() if k != rung}
                                for d in designs if d.stem not in skip})
            for name, twin in near.items():
                if not finished(args.out / rung / name / "report.json"):
                    print(f"  {name} is a near clone of {twin} below {rung}: not run at {rung}")
                    skip[name] = twin
        todo = [d for d in designs if d.stem not in skip]
        for design in designs:
            table.setdefault(design.stem, {})[rung] = None
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:  # each job is a child process
            run_one = functools.partial(run_rung, rung=rung, out=args.out, timeout_s=args.timeout, extra=extra,
                                        run=rung not in cached_only, device=devices.get(rung, "cpu"))
            reports = pool.map(run_one, todo)
            for design, report in zip(todo, reports, strict=True):
                table[design.stem][rung] = metric(report, rung)
                if is_screen(rung):
                    table[design.stem].update(screen_parts(report, rung))
                if args.evidence is not None:  # kept as it comes: a run cut short loses nothing finished
                    kept += save_evidence(args.out, args.evidence, [design], [rung])
    if args.evidence is not None:
        print(f"evidence {args.evidence}: {kept} reports kept")
    rungs = [*rungs, *(f"{r}:{half}" for r in screens for half in ("lm", "probes"))]
    clones = functional_clones({d.stem: table[d.stem] for d in designs}, clone_key)
    for clone, twin in clones.items():
        print(f"  {clone} is a functional clone of {twin} (identical screen numbers): left out")
        table[clone] = {**table[clone], "clone_of": twin}  # type: ignore[dict-item]
    (args.out / "table.json").write_text(json.dumps(table, indent=2))
    table = {n: row for n, row in table.items() if n not in clones}
    print(f"\n{'design':10}" + "".join(f"{r:>14}" for r in rungs))
    for name, row in table.items():
        print(f"{name:10}" + "".join(f"{row.get(r):>14.4f}" if row.get(r) is not None else f"{'-':>14}"
                                     for r in rungs))
    print("(screen: score, higher is better; screen:lm: minus bpb; screen:probes: mean probe value; "
          "micro, tiny: minus validation loss; '-': failed or not run)")
    print()
    agreements = []
    for i, a in enumerate(rungs):
        for b in rungs[i + 1:]:
            agreements.append(agreement(table, a, b))
            print(agreements[-1])
    near = near_clones(table)
    if near:
        print("\nnear clones (" + ", ".join(f"{a} ~ {b_}" for a, b_ in near.items()) + "), counted once:")
        merged = {n: row for n, row in table.items() if n not in near}
        for i, a in enumerate(rungs):
            for b in rungs[i + 1:]:
                agreements.append("near clones once: " + agreement(merged, a, b))
                print(agreements[-1])
    target = next((r for r in reversed(rungs) if not is_screen(r.split(":")[0])), None)  # the top trained rung
    if target is not None:
        print("\nfunnel: the top rung's best designs passed on by each rung below (near clones once)")
        for line in recall_lines({n: row for n, row in table.items() if n not in near}, rungs, target):
            agreements.append(line)
            print(line)
    published = {n: float(len(PUBLISHED) - i) for i, n in enumerate(PUBLISHED)}
    print(f"\npublished ordering (best first): {', '.join(PUBLISHED)}")
    for rung in rungs:
        names = [n for n in PUBLISHED if table.get(n, {}).get(rung) is not None]
        rho = spearman([published[n] for n in names], [float(table[n][rung]) for n in names])  # type: ignore[arg-type]
        pairs = [(w, b_, s) for w, b_, s in PUBLISHED_PAIRS
                 if table.get(w, {}).get(rung) is not None and table.get(b_, {}).get(rung) is not None]
        agree = sum(1 for w, b_, _ in pairs if table[w][rung] > table[b_][rung])  # type: ignore[operator,misc]
        agreements.append(f"{rung:7} vs published: rho = {rho:+.3f} (n = {len(names)}); "
                          f"pairs agreeing {agree}/{len(pairs)}")
        print(agreements[-1])
    if args.json is not None:
        args.json.write_text(json.dumps({"table": table, "clones": clones, "near_clones": near,
                                         "agreements": agreements}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
