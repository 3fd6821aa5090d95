"""benchmarks/bench_rank_agreement.py: its statistics (Spearman with ties, bootstrap interval) and
the GP designs it makes from a fixed RNG seed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

from verifier.core.gau.tree import GAUTree

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "bench_rank_agreement.py"


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_rank_agreement")


def test_spearman_matches_hand_computed_values_with_ties(bench):
    assert bench.ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]
    assert bench.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert bench.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties: ranks x = 1, 2.5, 2.5, 4 against y = 1..4 -> Pearson of the ranks
    assert bench.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert math.isnan(bench.spearman([1, 2], [1, 2]))  # too few points
    assert math.isnan(bench.spearman([1, 1, 1], [1, 2, 3]))  # no spread


def test_bootstrap_interval_brackets_rho_and_is_reproducible(bench):
    x = [1, 2, 3, 4, 5, 6, 7, 8]
    y = [2, 1, 4, 3, 6, 5, 8, 7]
    lo, hi = bench.bootstrap_interval(x, y, iters=300)
    assert lo <= bench.spearman(x, y) <= hi <= 1.0
    assert (lo, hi) == bench.bootstrap_interval(x, y, iters=300)


def test_published_pairs_agree_with_the_published_order(bench):
    position = {name: i for i, name in enumerate(bench.PUBLISHED)}
    assert sorted(bench.PUBLISHED) == sorted(bench.SEEDS)
    assert all(position[better] < position[worse] for better, worse, _ in bench.PUBLISHED_PAIRS)


def test_designs_are_the_seeds_plus_reproducible_gp_designs(bench, tmp_path):
    first = bench.make_designs(tmp_path / "a", 2, rng_seed=3)
    again = bench.make_designs(tmp_path / "b", 2, rng_seed=3)
    assert [p.stem for p in first] == [*bench.SEEDS, "gp00", "gp01"]
    for a, b in zip(first, again, strict=True):
        assert a.read_text() == b.read_text()
    GAUTree.from_json(first[-1].read_text())  # a valid design
    assert bench.make_designs(tmp_path / "a", 2, rng_seed=3) == first  # cached: same files


def test_a_design_already_on_disk_does_not_change_the_designs_after_it(bench, tmp_path):
    """An evidence folder seeds a cache with only some of the GP designs (the fresh ones); the rest
    must still be the same stream, or a resumed run tests different designs than it registered."""
    whole = bench.make_designs(tmp_path / "whole", 4, rng_seed=7)
    partial = tmp_path / "partial" / "designs"
    partial.mkdir(parents=True)
    (partial / "gp01.json").write_text(whole[-3].read_text())  # gp01 kept, gp00/gp02/gp03 not
    resumed = bench.make_designs(tmp_path / "partial", 4, rng_seed=7)
    assert [p.stem for p in resumed] == [p.stem for p in whole]
    for a, b in zip(whole, resumed, strict=True):
        assert a.read_text() == b.read_text()


def test_evidence_kept_in_the_repository_round_trips_through_a_fresh_cache(bench, tmp_path):
    """Finished reports (curves downsampled) and the loop's designs go to the evidence folder; a
    fresh cache is seeded from it without overwriting what it has; an unfinished run is not kept."""
    import json

    cache, evidence, fresh = tmp_path / "cache", tmp_path / "evidence", tmp_path / "fresh"
    designs = bench.make_designs(cache, 0, rng_seed=0)
    loop = cache / "designs" / "loop-7.json"
    loop.write_text(designs[0].read_text())
    curve = [{"step": i, "tokens": 64 * i, "loss": 10.0 - i / 100} for i in range(1, 301)]
    for name, status in (("loop-7", "done"), ("gpt", "failed"), ("mamba2", "running")):
        folder = cache / "tiny" / name
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps({"design_name": name, "design_hash": "h", "rung": "tiny",
                                                        "status": status, "val_loss": 6.5, "loss_curve": curve}))
    (cache / "tiny" / "loop-7" / "child.json").write_text(json.dumps({"wall_s": 41.5, "cpu_s": 80.0}))
    kept = bench.save_evidence(cache, evidence, [*designs, loop], ["screen", "tiny"])
    assert kept == 2  # loop-7 (done) and gpt (failed); mamba2 is still running
    saved = json.loads((evidence / "tiny" / "loop-7" / "report.json").read_text())
    assert len(saved["loss_curve"]) <= bench.EVIDENCE_CURVE_POINTS
    assert saved["loss_curve"][-1]["step"] == 300  # the curve still reaches the end of the run
    assert saved["wall_time_s"]["benchmark_child"] == 41.5 and saved["val_loss"] == 6.5
    assert (evidence / "designs" / "loop-7.json").read_text() == loop.read_text()
    assert not (evidence / "tiny" / "mamba2").exists() and not (evidence / "designs" / "gpt.json").exists()

    (fresh / "tiny" / "gpt").mkdir(parents=True)
    (fresh / "tiny" / "gpt" / "report.json").write_text('{"mine": true}')
    assert bench.load_evidence(evidence, fresh) == 2  # the loop design and its report
    assert json.loads((fresh / "tiny" / "gpt" / "report.json").read_text()) == {"mine": True}
    assert bench.metric(bench.VerificationReport.read(fresh / "tiny" / "loop-7"), "tiny") == -6.5
    assert [p.stem for p in bench.make_designs(fresh, 0, 0, loop_designs=True)][-1] == "loop-7"
    assert bench.load_evidence(tmp_path / "nowhere", fresh) == 0


def test_near_clones_are_the_same_language_model_numbers_within_tolerance(bench):
    table = {
        "gpt": {"screen": 0.073, "screen:lm": -2.56410, "micro": -6.59604},
        "mamba2": {"screen": 0.135, "screen:lm": -2.53350, "micro": -6.48600},
        "loop-10": {"screen": 0.063, "screen:lm": -2.56412, "micro": -6.59605},  # GPT, another rotary unit
        "loop-11": {"screen": 0.117, "screen:lm": -2.56412, "micro": -6.73740},  # same bpb, other loss
        "loop-12": {"screen": 0.148, "screen:lm": -2.56410, "micro": None},  # one number: not compared
        "loop-13": {"screen": None, "screen:lm": None, "micro": None},  # failed
    }
    assert bench.near_clones(table) == {"loop-10": "gpt"}
    assert bench.near_clones(table, {"screen:lm": 1e-6, "micro": 1e-6}) == {}
    assert bench.near_clones({}) == {}


def test_an_interrupted_run_is_not_finished_so_it_is_run_again_and_resumes(bench, tmp_path):
    report = tmp_path / "report.json"
    assert not bench.finished(report)  # none yet
    for status, final in (("done", True), ("failed", True), ("interrupted", False), ("running", False)):
        report.write_text(f'{{"status": "{status}"}}')
        assert bench.finished(report) is final, status
    report.write_text("{not json")
    assert not bench.finished(report)


def test_near_clones_of_the_rungs_below_are_not_run_at_the_rung_above(bench, tmp_path, capsys):
    """With the repository's evidence (the micro-48 screen and micro for the 26 designs) and a tiny report for every
    design but the three near clones, --skip-near-clones runs nothing: the near clones are named, and
    no run folder is made for them."""
    import json
    import shutil

    out = tmp_path / "cache"
    evidence = REPO / "benchmarks" / "evidence" / "rank_agreement"
    bench.load_evidence(evidence, out)
    designs = bench.make_designs(out, 0, 0, loop_designs=True)
    near = {"loop-10", "loop-17", "loop-19"}
    for design in designs:
        micro = out / "micro" / design.stem / "report.json"
        if design.stem not in near and micro.exists():
            (out / "tiny" / design.stem).mkdir(parents=True, exist_ok=True)  # overwritten: micro copied
            report = json.loads(micro.read_text())
            shutil.copy(micro, out / "tiny" / design.stem / "report.json")
            assert bench.finished(out / "tiny" / design.stem / "report.json"), report.get("status")
    bench.main(["--out", str(out), "--loop-designs", "--rungs", "screen-micro48,micro,tiny", "--no-run", "screen-micro48,micro",
                "--skip-near-clones"])
    printed = capsys.readouterr().out
    for name, twin in (("loop-10", "gpt"), ("loop-17", "gpt"), ("loop-19", "ttt")):
        assert f"{name} is a near clone of {twin} below tiny: not run at tiny" in printed
        assert not (out / "tiny" / name).exists()
    assert "rho(micro, tiny) = +1.000" in printed  # tiny here is micro's copy


def test_funnel_recall_counts_the_targets_best_inside_the_predictors_cut_and_never_splits_a_tie(bench):
    # target order a > b > c > d > e > f > g > h; the predictor swaps the top two into the middle
    target = dict(zip("abcdefgh", [8, 7, 6, 5, 4, 3, 2, 1], strict=True))
    predictor = dict(zip("abcdefgh", [5, 4, 8, 7, 6, 3, 2, 1], strict=True))
    table = {n: {"screen": float(predictor[n]), "tiny": float(target[n])} for n in target}
    assert bench.top_recall(table, "screen", "tiny", k=2, keep=2) == (0, 2, 2, 8)  # c, d kept: a, b lost
    assert bench.top_recall(table, "screen", "tiny", k=2, keep=4) == (1, 2, 4, 8)  # c, d, e, a
    assert bench.top_recall(table, "tiny", "tiny", k=3, keep=3)[:2] == (3, 3)  # a rung passes its own best
    # a tie at the cut is kept whole: three designs tied for second all pass a top-2 cut
    assert bench.top({"a": 3.0, "b": 2.0, "c": 2.0, "d": 2.0, "e": 1.0}, 2) == {"a", "b", "c", "d"}
    assert bench.top({}, 3) == set() and bench.top({"a": 1.0}, 5) == {"a"}
    # designs missing at either rung are left out; fewer than four leave no line
    table["x"] = {"screen": 9.0, "tiny": None}
    assert bench.top_recall(table, "screen", "tiny", k=2, keep=2)[3] == 8
    lines = bench.recall_lines(table, ["screen", "micro", "tiny"], "tiny")
    assert lines == ["tiny's top 2 passed by screen       : 0/2 in its top 2 (chance 0.5, p 1); 1/2 in its top 4 "
                     "(chance 1.0, p 0.79)  n = 8"]
    # hypergeometric tail, by hand: 4 of the best 6 in a cut of 6 of 23 = (15*136 + 6*17 + 1) / C(23, 6)
    assert bench.chance_of_at_least(4, 6, 6, 23) == pytest.approx(2143 / 100947)
    assert bench.chance_of_at_least(0, 6, 6, 23) == pytest.approx(1.0)
    assert bench.recall_lines({"a": {"screen": 1.0, "tiny": 1.0}}, ["screen", "tiny"], "tiny") == []


def test_each_screen_generation_is_rescored_by_its_own_definition(bench):
    """The kept reports of the first screen (64x3, reference bpb 2.555) are read as `screen-65k`;
    the same raw numbers under today's `screen` get today's reference: only the bpb half moves."""
    from verifier.core.train.ladder import get_rung

    report = bench.VerificationReport.read(REPO / "benchmarks" / "evidence" / "rank_agreement" / "screen-65k" / "gpt")
    assert report.config["rung"]["train_tokens"] == get_rung("screen-65k").train_tokens
    assert bench.is_screen("screen") and bench.is_screen("screen-65k")
    assert not bench.is_screen("micro") and not bench.is_screen("no-such-rung")
    bpb = report.components["lm_bpb"]["bpb"]
    old, new = bench.screen_parts(report, "screen-65k"), bench.screen_parts(report, "screen")
    assert old == {"screen-65k:lm": -bpb, "screen-65k:probes": new["screen:probes"]}
    oriented, score, _ = bench.rescore(report.components, "screen-65k")
    assert oriented["lm_bpb"]["value"] == pytest.approx(10 * (2.555 - bpb) / 2.555)
    assert bench.metric(report, "screen-65k") == pytest.approx(score)
    ref = get_rung("screen").extra["reference_bpb"]
    assert bench.rescore(report.components, "screen")[0]["lm_bpb"]["value"] == pytest.approx(10 * (ref - bpb) / ref)
    with pytest.raises(ValueError, match="not a screen rung"):
        bench.rescore(report.components, "micro")


def test_a_fresh_set_drops_the_seeds_the_earlier_sets_trees_and_repeats(bench, tmp_path):
    designs = bench.make_designs(tmp_path / "cache", 6, rng_seed=5)
    gp = designs[5:]
    earlier = tmp_path / "earlier"
    (earlier / "designs").mkdir(parents=True)
    (earlier / "designs" / "loop-3.json").write_text(gp[0].read_text())  # already in the earlier set
    repeat = tmp_path / "cache" / "designs" / "gp99.json"
    repeat.write_text(gp[1].read_text())  # the same tree under another name
    hashes = [GAUTree.from_json(p.read_text()).content_hash() for p in gp]
    fresh = bench.fresh_designs([*designs, repeat], [earlier])
    assert all(p.stem not in bench.SEEDS for p in fresh)
    assert gp[0] not in fresh and repeat not in fresh  # the first of two equal trees is the one kept
    kept = [GAUTree.from_json(p.read_text()).content_hash() for p in fresh]
    from verifier.core.seeds import load_seed

    seeds = {load_seed(name).content_hash() for name in bench.SEEDS}
    assert len(kept) == len(set(kept)) and set(kept) == set(hashes[1:]) - {hashes[0]} - seeds
    assert bench.fresh_designs([], [earlier]) == []
    assert bench.fresh_designs(designs[:5], [tmp_path / "no-such-set"]) == []  # seeds only: nothing is new


def test_a_second_generation_breeds_from_an_earlier_sets_designs(bench, tmp_path):
    """With --gp-parents the parents include an earlier set's designs, so children of children come
    out (the loop breeds that way); they are named g2-NN and are fresh against both earlier sets."""
    first = tmp_path / "first"
    made = bench.make_designs(first, 6, rng_seed=5)
    other = tmp_path / "other"
    (other / "designs").mkdir(parents=True)
    (other / "designs" / "gp03.json").write_text(made[-1].read_text())
    second = bench.make_designs(tmp_path / "second", 12, rng_seed=11, parents_from=[first, other])
    names = [p.stem for p in second]
    assert names[:5] == list(bench.SEEDS) and all(n.startswith("g2-") for n in names[5:]) and len(names) == 17
    again = bench.make_designs(tmp_path / "again", 12, rng_seed=11, parents_from=[first, other])
    assert [p.read_text() for p in again] == [p.read_text() for p in second]  # the same stream
    fresh = bench.fresh_designs(second, [first, other])
    earlier = {GAUTree.from_json(p.read_text()).content_hash() for p in made}
    assert fresh and all(GAUTree.from_json(p.read_text()).content_hash() not in earlier for p in fresh)
    # Against the first set alone, a child equal to one of `other`'s designs would count as fresh.
    assert set(fresh) <= set(bench.fresh_designs(second, [first]))
