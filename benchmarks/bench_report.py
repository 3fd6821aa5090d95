"""The benchmark's verdicts and tables: the GPT seed against the plain GPT per rung, in the terms of
issue #4's targets (1.5x at 14M, 1.1x at 125M)."""

from __future__ import annotations

from bench_io import say

TARGETS = {"14M": 1.5, "125M": 1.1}
PLAIN = "plain GPT"


def verdicts(rows: dict[str, list[dict]]) -> dict[str, dict]:
    """GPT seed / plain GPT at the rungs with a target (best GPT row: chunked or full CE)."""
    out = {}
    for rung, target in TARGETS.items():
        ok = [r for r in rows.get(rung, []) if "failure" not in r and r.get("tokens_per_s")]
        plain = next((r for r in ok if r["model"] == PLAIN), None)
        gpt = [r for r in ok if r["model"] == "gpt"]
        if plain and gpt:
            ratio = max(r["tokens_per_s"] for r in gpt) / plain["tokens_per_s"]
            out[rung] = {"ratio": ratio, "target": target, "meets": ratio >= target}
    return out


def row_line(r: dict, rows: list[dict]) -> str:
    label = r["model"] + ("" if r.get("chunked_ce", True) or r["model"] == PLAIN else " (full CE)")
    label += " (eager)" if r.get("eager") else ""
    if "failure" in r:
        return f"{label:22} FAILED {r['failure']['category']}: {r['failure']['message'][:80]}"
    plain = next((x for x in rows if x["model"] == PLAIN and "failure" not in x), None)
    ratio = r["tokens_per_s"] / plain["tokens_per_s"] if plain and plain.get("tokens_per_s") else float("nan")
    mfu = f"{100 * r['mfu']:.1f}%" if r.get("mfu") is not None else "-"
    compile_s = f"{r['compile_s']:.0f}s" if r.get("compile_s") is not None else "-"
    shape = f"{r['d_model']}x{r['n_block']}"
    micro = f"{r['micro_batch']}x{r['grad_accum']}"
    return (
        f"{label:22} {shape:>9} {r['non_embedding_params']:>12,} {micro:>11} {r['tokens_per_s']:>12,.0f} "
        f"{mfu:>6} {ratio:>7.2f}x {compile_s:>8} {r.get('row_s', 0):>6.0f}s"
    )


def print_tables(doc: dict) -> None:
    header = f"{'model':22} {'shape':>9} {'params':>12} {'micro x acc':>11} {'tok/s':>12} {'MFU':>6} {'vs plain':>8}"
    for rung, rows in doc.get("rows", {}).items():
        say(f"\n== {rung} ({doc.get('device')}, context {doc.get('context')}) ==")
        say(f"{header} {'compile':>8} {'row':>7}")
        for r in rows:
            say(row_line(r, rows))
    for rung, v in doc.get("verdicts", {}).items():
        verdict = "meets" if v["meets"] else "BELOW"
        say(f"GPT seed / plain GPT at {rung}: {v['ratio']:.2f}x ({verdict} the {v['target']}x target)")
    missing = [r for r in TARGETS if r not in doc.get("verdicts", {})]
    if missing:
        say(f"no verdict at {', '.join(missing)} (a row is missing or failed)")
    for skip in doc.get("skipped", []):
        say(f"skipped: {skip['label']} ({skip['reason']})")
    state = "complete" if doc.get("complete") else "INCOMPLETE (stopped early)"
    say(f"benchmark {state}: {doc.get('elapsed_s', 0):.0f} s")
