"""The parent recomputes every score (evolution/services/verifications.py): a forged report fails its
verification with the reason, an honest one sets the rung fitness, F and its std, and a new value at a
rung moves the F of every design verified there."""

from __future__ import annotations

import random

import pytest

from evolution.demo import fake_report
from evolution.models import Design, EvolutionRun, Verification
from evolution.services.verifications import record_report

pytest_plugins = ["web_fixtures"]
pytestmark = pytest.mark.django_db


def _verify(design: Design, rung: str = "micro", quality: float = 0.1, seed: int = 0, run=None, **changes) -> Verification:
    v = Verification.objects.create(design=design, rung=rung, rung_index=0, run=run)
    report = fake_report(rung, quality, random.Random(seed), design_hash=design.tree_hash)
    report.update(changes)
    return record_report(v, report)


def test_a_forged_fitness_fails_the_verification_and_is_never_stored(seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    v = _verify(gpt, fitness=0.9)
    gpt.refresh_from_db()
    assert v.status == "failed" and v.error.startswith("report_rejected: claimed fitness 0.9")
    assert v.fitness is None and gpt.fitness is None and gpt.confidence == 0 and gpt.status == "failed"


def test_the_stored_fitness_is_recomputed_not_read(seeds):
    gpt = next(d for d in seeds if d.name == "gpt")
    v = _verify(gpt, rung="14M", fitness=None)  # nothing claimed: still scored
    report = v.report
    expected = sum(report["task_scores"].values()) / len(report["task_scores"])
    assert v.status == "done" and v.fitness_metric == "accuracy" and v.fitness == pytest.approx(expected)
    assert v.fitness_stderr is not None and 0 < v.fitness_stderr < 0.05
    assert set(v.metrics["fitness"]["parts"]) == set(report["eval"])


def test_a_report_for_another_design_or_rung_is_refused(seeds):
    gpt, mamba = (next(d for d in seeds if d.name == n) for n in ("gpt", "mamba2"))
    v = Verification.objects.create(design=gpt, rung="micro", rung_index=0)
    record_report(v, fake_report("micro", 0.1, random.Random(0), design_hash=mamba.tree_hash))
    assert v.status == "failed" and "report is for design" in v.error
    w = Verification.objects.create(design=mamba, rung="micro", rung_index=0)
    record_report(w, fake_report("tiny", 0.1, random.Random(0), design_hash=mamba.tree_hash))
    assert w.status == "failed" and "rung 'tiny'" in w.error


def test_a_failed_run_keeps_its_own_reason(seeds):
    gpt = seeds[0]
    v = Verification.objects.create(design=gpt, rung="micro", rung_index=0)
    record_report(v, {"status": "failed", "error": "nan_loss: the loss became NaN"})
    assert v.status == "failed" and v.error == "nan_loss: the loss became NaN"


def test_F_is_a_z_score_in_the_rung_population_and_moves_with_it(seeds):
    a, b, c = seeds[:3]
    _verify(a, quality=0.0, seed=1)
    a.refresh_from_db()
    assert a.fitness == 0.0 and a.fitness_std == 1.0  # alone at the rung: where it stands is unknown
    _verify(b, quality=0.3, seed=2)
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.fitness > 0 > a.fitness and a.fitness == pytest.approx(-b.fitness)  # two designs: ±1/sqrt(2)
    assert a.fitness_std is not None and a.fitness_std > 0
    _verify(c, quality=0.6, seed=3)
    a.refresh_from_db()
    assert a.fitness < -0.9  # a third, better design moved a's z-score down


def test_the_run_chooses_the_metric(seeds):
    run = EvolutionRun.objects.create(name="accuracy-run", settings={"fitness_metric": "accuracy"})
    v = _verify(seeds[0], run=run)
    assert v.status == "done" and v.fitness_metric == "accuracy"
    w = _verify(seeds[1])
    assert w.fitness_metric == "likelihood"
    # Different metrics are different populations: each design is alone in its own.
    assert Design.objects.get(pk=seeds[0].pk).fitness == 0.0 == Design.objects.get(pk=seeds[1].pk).fitness


def test_a_report_without_the_metric_raw_results_is_refused(seeds):
    v = Verification.objects.create(design=seeds[0], rung="micro", rung_index=0)
    report = fake_report("micro", 0.1, random.Random(0), design_hash=seeds[0].tree_hash)
    for row in report["eval"].values():
        del row["logprob_per_byte"], row["logprob_per_byte_stderr"]
    record_report(v, report)
    assert v.status == "failed" and "no raw results for the likelihood fitness" in v.error


def test_the_leaderboard_calls_a_child_better_only_by_a_paired_comparison(seeds, client):
    from django.urls import reverse

    from evolution.models import DesignParent
    from evolution.selectors.leaderboard import leaderboard

    parent, child, twin = seeds[0], seeds[1], seeds[2]
    DesignParent.objects.create(child=child, parent=parent)
    DesignParent.objects.create(child=twin, parent=parent)
    _verify(parent, rung="14M", quality=0.0, seed=1)
    _verify(child, rung="14M", quality=0.2, seed=2)  # far above its parent on thousands of documents
    _verify(twin, rung="14M", quality=0.0, seed=3)  # the same quality: no call
    rows = {r.design.name: r for r in leaderboard("14M")["rows"]}
    better = rows[child.name].vs_parents[0]
    assert better.name == parent.name and better.result.verdict == "better" and better.result.shared == 5
    assert rows[twin.name].vs_parents[0].result.verdict == "unclear"
    assert rows[parent.name].vs_parents == [] and rows[child.name].half_width > 0
    page = client.get(reverse("evolution:leaderboard"), {"rung": "14M"}).content.decode()
    assert f'▲ <a href="{parent.get_absolute_url()}">{parent.name}</a>' in page


def test_the_design_page_shows_how_F_was_made_and_bpb_beside_the_gpt_seed(seeds, client):
    import re

    gpt, mamba = (next(d for d in seeds if d.name == n) for n in ("gpt", "mamba2"))
    _verify(gpt, quality=0.0, seed=1)
    v = _verify(mamba, quality=0.2, seed=2)
    _verify(mamba, rung="14M", quality=0.1, seed=3)
    page = client.get(mamba.get_absolute_url()).content.decode()
    terms = page.split('id="fitness-terms"')[1].split("</table>")[0]
    assert "<b>micro</b></td><td>likelihood</td>" in terms and "<b>14M</b></td><td>accuracy</td>" in terms
    assert re.search(r'<td class="num">2</td>\s*<td class="num">\+0\.707 ± [0-9.]+</td>', terms)  # micro: 2 designs
    assert re.search(r'<td class="num">1</td>\s*<td class="num">0.000 ± 1.960</td>', terms)  # alone at 14M
    mamba.refresh_from_db()
    assert f"{mamba.fitness:.3f}" in page.split('id="fitness"')[1][:40] and 'id="fitness-interval"' in page
    bpb = page.split('id="bpb-vs-gpt"')[1].split("</table>")[0]
    gpt_bpb = Verification.objects.get(design=gpt, rung="micro").report["val_bpb"]
    assert f"{v.report['val_bpb']:.4f}" in bpb and f"{gpt_bpb:.4f}" in bpb
    assert "the GPT seed has no bpb at 14M yet" in bpb
    assert "this is the GPT seed" in client.get(gpt.get_absolute_url()).content.decode()


def test_the_dashboard_shows_rank_agreement_between_rungs(seeds, client_for, viewer):
    from django.urls import reverse

    from evolution.selectors.dashboard import rank_agreement

    for i, design in enumerate(seeds[:4]):
        _verify(design, rung="micro", quality=0.1 * i, seed=i)
        _verify(design, rung="14M", quality=0.1 * i, seed=10 + i)
    _verify(seeds[4], rung="tiny", quality=0.1, seed=20)
    _verify(seeds[0], rung="tiny", quality=0.2, seed=21)
    rows = {(r["low"], r["high"]): r for r in rank_agreement(None)}
    assert rows[("micro", "14M")]["n"] == 4 and rows[("micro", "14M")]["rho"] == pytest.approx(1.0)
    assert rows[("micro", "tiny")] == {"low": "micro", "high": "tiny", "n": 1, "rho": None,
                                       "note": "too few designs (n=1)"}
    page = client_for(viewer).get(reverse("evolution:dashboard")).content.decode()
    agreement = page.split('id="rank-agreement"')[1].split("</div>")[0]
    assert "micro → 14M</td><td class=\"num\">4</td>" in agreement and ">1.00</b>" in agreement
    assert "too few designs (n=1)" in agreement
    import re

    ladder = page.split('id="dash-ladder"')[1].split('id="rank-agreement"')[0]
    assert len(re.findall(r'<td class="num">-?[0-9.]+ <span class="faint small">± [0-9.]+</span></td>', ladder)) == 3


def test_seeds_of_one_rung_count_as_one_rung(seeds):
    """A close call re-verified with a new seed: confidence counts rungs, F averages the seeds, and the
    population has one value per design."""
    a, b = seeds[:2]
    for seed, quality in ((42, 0.1), (43, 0.3)):
        v = Verification.objects.create(design=a, rung="micro", rung_index=0, seed=seed)
        record_report(v, fake_report("micro", quality, random.Random(seed), design_hash=a.tree_hash))
    _verify(b, quality=0.2, seed=7)
    a.refresh_from_db()
    from evolution.selectors.fitness import design_fitness, population_stats

    assert a.confidence == 1
    combined = design_fitness(a)
    assert len(combined.terms) == 1
    values = list(Verification.objects.filter(design=a).values_list("fitness", flat=True))
    assert combined.terms[0].value == pytest.approx(sum(values) / 2)
    stats = population_stats()
    assert stats[("micro", combined.terms[0].metric)].n == 2  # a and b, not three rows
