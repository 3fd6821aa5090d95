"""Which lm-eval example limit each task of a verification runs with."""

from __future__ import annotations

from verifier.core.train.evaluation import limit_batches
from verifier.core.train.ladder import get_rung
from verifier.core.train.verify import VerifyConfig, eval_limits_for


def test_tasks_are_batched_by_their_limit_in_order():
    tasks = ("piqa_local", "blimp_local", "copa_local", "wikitext_local")
    batches = limit_batches(tasks, 100, {"blimp_local": 5, "wikitext_local": None})
    assert batches == [(100, ["piqa_local", "copa_local"]), (5, ["blimp_local"]), (None, ["wikitext_local"])]
    assert limit_batches(tasks, None, None) == [(None, list(tasks))]


def test_cpu_rungs_evaluate_blimp_per_subtask_sparingly():
    micro = get_rung("micro")
    # BLiMP's 67 subtasks at 5 pairs each: about three times a plain task's 100 examples, not 67 times
    assert micro.limit_for("blimp_local") * 67 < 4 * micro.limit_for("piqa_local")
    assert get_rung("14M").limit_for("blimp_local") is None  # GPU rungs evaluate everything


def test_an_explicit_limit_for_every_task_drops_the_rung_exceptions():
    micro = get_rung("micro")
    assert eval_limits_for(micro, VerifyConfig()) == (100, {"blimp_local": 5})
    assert eval_limits_for(micro, VerifyConfig(eval_limit=None)) == (None, {})
    assert eval_limits_for(micro, VerifyConfig(eval_limit=20, eval_limits={"copa_local": 3})) == (
        20, {"copa_local": 3})


def test_lm_eval_templates_are_compiled_once_and_render_the_same():
    from lm_eval import utils

    from verifier.core.train.evaluation import install_template_cache

    template = "Question: {{question}}\nAnswer:{{ ' ' ~ choices[gold] }} #" + str(id(utils))
    docs = [{"question": f"q{i}?", "choices": ["a", "b"], "gold": i % 2} for i in range(50)]
    expected = [utils.env.from_string(template).render(**d) for d in docs]
    install_template_cache()
    install_template_cache()  # idempotent: does not wrap itself
    cache = utils.apply_template.compiled
    before = cache.cache_info()
    assert [utils.apply_template(template, d) for d in docs] == expected
    after = cache.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 49)  # compiled once for 50
