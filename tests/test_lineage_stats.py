"""Lineage analytics on plain data: improvements judged within a rung, units credited where they came in."""

from __future__ import annotations

from evolution.core.lineage_stats import LineageDesign, compare_with_parents, lineage_stats, unit_record

LADDER = ["screen", "micro", "tiny", "14M"]


def D(id, parents=(), operator="mutation (GP)", units=(), rungs=None, fitness=None, in_run=True, name=None):
    return LineageDesign(id=id, name=name or f"d{id}", parents=tuple(parents), operator=operator,
                         units=frozenset(units), rungs=rungs or {}, fitness=fitness, in_run=in_run)


def population() -> list[LineageDesign]:
    seed = D(1, operator="seed", units={"attn", "mlp", "norm"}, rungs={"micro": (-1.0, 0.01), "14M": (0.10, 0.01)},
             fitness=0.0, in_run=False)
    return [
        seed,
        # Better at micro, worse at 14M: judged at 14M (the highest shared rung), so not an improvement.
        D(2, [1], units={"attn", "conv", "norm"}, rungs={"micro": (-0.5, 0.01), "14M": (0.05, 0.01)}, fitness=0.1),
        # Better at micro by far more than the errors: a clear improvement.
        D(3, [1], "mutation (LLM: full)", {"attn", "glu", "norm"}, {"micro": (-0.8, 0.01)}, fitness=0.3),
        # Better by less than the noise: an improvement, not a clear one.
        D(4, [1], "mutation (LLM: full)", {"attn", "glu2", "norm"}, {"micro": (-0.995, 0.05)}, fitness=0.05),
        # Crossover of 3 and 2, compared with the better parent at micro (2: -0.5).
        D(5, [3, 2], "crossover (GP)", {"attn", "glu", "conv", "norm"}, {"micro": (-0.4, None)}, fitness=0.4),
        # Never verified: not compared.
        D(6, [5], units={"attn", "glu", "conv", "rms"}),
        # Verified only at a rung no parent has: not compared.
        D(7, [3], units={"attn", "glu", "norm"}, rungs={"tiny": (0.3, 0.01)}),
        D(8, [], "scratch (GP)", {"fresh"}, {"micro": (-0.2, 0.01)}, fitness=0.2),
    ]


def test_comparison_uses_the_highest_shared_rung_and_the_best_parent():
    designs = population()
    by_id = {d.id: d for d in designs}
    c2 = compare_with_parents(by_id[2], by_id, LADDER)
    assert c2.rung == "14M" and c2.improved is False
    c5 = compare_with_parents(by_id[5], by_id, LADDER)
    assert c5.rung == "micro" and abs(c5.delta - 0.1) < 1e-12 and c5.improved and not c5.clearly  # stderr unknown
    assert compare_with_parents(by_id[6], by_id, LADDER) is None
    assert compare_with_parents(by_id[7], by_id, LADDER) is None


def test_operators_by_improvement_rate():
    stats = lineage_stats(population(), LADDER)
    ops = {r["operator"]: r for r in stats["operators"]}
    assert ops["mutation (LLM: full)"] == {"operator": "mutation (LLM: full)", "children": 2, "compared": 2,
                                           "uncompared": 0, "improved": 2, "clearly": 1, "rate": 1.0}
    assert ops["mutation (GP)"]["children"] == 3 and ops["mutation (GP)"]["compared"] == 1
    assert ops["mutation (GP)"]["improved"] == 0 and ops["mutation (GP)"]["uncompared"] == 2
    assert ops["crossover (GP)"]["improved"] == 1
    assert ops["scratch (GP)"]["compared"] == 0 and ops["scratch (GP)"]["rate"] is None
    assert "seed" not in ops  # the starting population is not judged
    assert stats["operators"][0]["rate"] == 1.0 and stats["operators"][-1]["rate"] is None


def test_units_are_credited_where_they_were_introduced():
    stats = lineage_stats(population(), LADDER, {"glu": "GLU", "conv": "ShortConv"})
    units = {r["unit"]: r for r in stats["improving_units"]}
    assert units["glu"]["name"] == "GLU" and units["glu"]["compared"] == 1 and units["glu"]["improved"] == 1
    assert units["conv"]["compared"] == 1 and units["conv"]["improved"] == 0  # came in with design 2
    assert "attn" not in units  # inherited everywhere, never introduced in the run
    assert "rms" not in units  # introduced by an uncompared design
    reused = stats["reused_units"]
    assert reused[0] == {"unit": "attn", "name": "attn", "designs": 6}


def test_strongest_branches_by_best_fitness():
    branches = lineage_stats(population(), LADDER)["branches"]
    # 3 and 2 tie on their best (the crossover 5 is in both): the larger branch first.
    assert [b["root"] for b in branches] == [3, 2, 8, 4]
    top = branches[0]
    assert top["designs"] == 4 and top["best_design"] == "d5" and abs(top["gain_over_root_parents"] - 0.4) < 1e-12
    scratch = next(b for b in branches if b["root"] == 8)
    assert scratch["gain_over_root_parents"] is None  # a scratch branch has no parents


def test_ties_and_empty_and_single_design():
    assert lineage_stats([], LADDER) == {"operators": [], "improving_units": [], "reused_units": [], "branches": [],
                                         "comparisons": 0}
    one = lineage_stats([D(1, rungs={"micro": (0.0, None)}, fitness=0.0)], LADDER)
    assert one["branches"][0]["designs"] == 1 and one["comparisons"] == 0
    tie = [D(1, operator="seed", rungs={"micro": (0.5, 0.01)}, in_run=False), D(2, [1], rungs={"micro": (0.5, 0.01)})]
    (op,) = lineage_stats(tie, LADDER)["operators"]
    assert op["compared"] == 1 and op["improved"] == 0  # equal is not better


def test_unit_record_for_the_unit_page():
    rec = unit_record(population(), "glu", LADDER)
    assert [r["id"] for r in rec["introduced_by"]] == [3]
    assert rec["introduced_by"][0]["improved"] is True and rec["carriers"] == 4
    assert unit_record(population(), "attn", LADDER)["introduced_by"][0]["operator"] == "seed"
    assert unit_record(population(), "missing", LADDER) == {"introduced_by": [], "carriers": 0, "compared": 0,
                                                            "improved": 0, "clearly": 0}
