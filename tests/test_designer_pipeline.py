"""The whole designer pipeline through the real anthropic and openai SDK clients, against recorded
provider replies served by a local HTTP server, with the real symbolic checker.

Scenarios (tests/data/llm_replies/<scenario>/, served in file order):
  mutation_repair       Anthropic; gpt's GatedMLP -> ShortConvGLU. The proposal is accepted after one
                        revision (3/5, then 4/5); the first unit is not causal, fails the checker, is
                        rolled back and repaired.
  malformed_replies     OpenAI; gpt's RMSNorm -> DyTNorm. A cut-off proposal, a coder reply with no
                        code, an observer rating that is not a number: each goes back as a finding.
  budget_stop           Anthropic, an expensive model and a $1 budget: the run stops after the proposer.
  crossover_compatible  An OpenAI-compatible (vLLM) endpoint; gpt x mamba2: attention and Mamba-2 in
                        parallel, both children reused from the parents.
  provider_garbage      Anthropic answers with bodies that are not Messages: the run ends with a record.
  whole_design_repair   The ablations without unit-by-unit generation and direct prompting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from designer.core.ablations import compare, format_table, variant
from designer.core.checking import CheckerUnavailable, load_checker
from designer.core.config import ROLES, DesignerConfig, Limits, RoleSettings
from designer.core.pipeline import design
from designer.core.proposal import Proposal
from designer.core.references import NO_LITERATURE
from designer.core.replay_server import ReplayServer, load_replies, point_config_at
from designer.core.result import DesignerResult
from verifier.core.seeds import load_seed

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

REPLIES = Path(__file__).parent / "data" / "llm_replies"
KEY_ENV = "GENESYS_TEST_REPLAY_KEY"


@pytest.fixture(autouse=True, scope="module")
def no_local_library(tmp_path_factory):
    """Hermetic prompts: the proposer gets references only where a test hands it a library."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENESYS_KNOWLEDGE_DIR", str(tmp_path_factory.mktemp("no-library") / "absent"))
        yield


def real_checker():
    try:
        return load_checker()
    except CheckerUnavailable as exc:
        pytest.skip(f"waits for the symbolic checker: {exc}")


def config_for(model: str, **limits) -> DesignerConfig:
    return DesignerConfig(roles={r: RoleSettings(model=model) for r in ROLES}, limits=Limits(**limits))


def run_scenario(scenario: str, parents: list[str], mode: str, model: str, *, kind: str | None = None,
                 checker=None, config: DesignerConfig | None = None, retries: int = 2, **kwargs):
    os.environ.setdefault(KEY_ENV, "replay-key-not-real")
    config = config or config_for(model)
    with ReplayServer.from_folder(REPLIES / scenario) as server:
        point_config_at(server, config, kind=kind, key_env=KEY_ENV, max_retries=retries)
        result = design([load_seed(p) for p in parents], mode, config, checker=checker, **kwargs)
    return result, server


def usage_cost(scenario: str, price_in: float, price_out: float) -> tuple[int, int, float]:
    tokens_in = tokens_out = 0
    for reply in load_replies(REPLIES / scenario):
        usage = reply.body["usage"]
        tokens_in += usage.get("input_tokens", usage.get("prompt_tokens", 0))
        tokens_out += usage.get("output_tokens", usage.get("completion_tokens", 0))
    return tokens_in, tokens_out, (tokens_in * price_in + tokens_out * price_out) / 1e6


# ---- runs that stop before the checker is needed --------------------------------------------------
def test_budget_stop_ends_the_run_before_the_next_call():
    result, server = run_scenario("budget_stop", ["gpt"], "mutation", "claude-opus-4-1",
                                  config=config_for("claude-opus-4-1", run_budget_dollars=1.0))
    assert server.errors == []
    assert [r.served for r in server.requests] == ["01_proposer.json"] and server.remaining == 1
    assert result.status == "failed"
    assert result.failure == "run budget reached: $1.4550 spent of $1.00"
    assert result.cost.dollars == pytest.approx(52000 * 15 / 1e6 + 9000 * 75 / 1e6)
    # The round that was cut short is kept: the proposal was written, the review never came.
    (round_1,) = result.review_rounds
    assert round_1["proposal"]["title"] == "Short-conv GLU" and round_1["review"] is None
    assert result.tree is None and result.metrics["calls"] == 1


@pytest.mark.slow
def test_references_from_the_knowledge_engine_reach_the_proposer(tmp_path):
    from knowledge.core import KnowledgeBase

    paper = tmp_path / "shortconv.md"
    paper.write_text("# Short Convolutions in Feed-Forward Layers\n\n## Abstract\n\nA causal depthwise convolution "
                     "on the gate of a gated MLP lets each token mix its recent neighbours at almost no cost.\n")
    library = KnowledgeBase(tmp_path / "store")
    library.ingest_path(paper, {"paper_id": "shortconv-2025", "year": 2025})
    config = config_for("claude-opus-4-1", run_budget_dollars=1.0)
    config.theme = "local token mixing in the MLP"
    result, server = run_scenario("budget_stop", ["gpt"], "mutation", "claude-opus-4-1", config=config,
                                  knowledge=library)
    assert [r["paper_id"] for r in result.references] == ["shortconv-2025"]
    assert "origin" in result.to_dict() and "references_note" not in result.origin
    prompt = server.requests[0].text
    assert "Short Convolutions in Feed-Forward Layers" in prompt and "local token mixing in the MLP" in prompt


def test_without_literature_the_proposer_is_told_so_and_tokens_are_kept_per_role():
    config = config_for("claude-opus-4-1", run_budget_dollars=1.0)
    config.literature = False
    result, server = run_scenario("budget_stop", ["gpt"], "mutation", "claude-opus-4-1", config=config)
    assert result.references == [] and result.origin["references_note"] == NO_LITERATURE
    assert NO_LITERATURE in server.requests[0].text
    tokens_in, tokens_out, _ = usage_cost("budget_stop", 0, 0)
    # One call was made (the proposer's); the second reply was never asked for.
    first = load_replies(REPLIES / "budget_stop")[0].body["usage"]
    assert result.metrics["tokens_by_role"] == {"proposer": [first["input_tokens"], first["output_tokens"]]}
    assert tokens_in > first["input_tokens"] or tokens_out > first["output_tokens"]


@pytest.mark.slow
def test_without_literature_a_library_is_not_read(tmp_path):
    from knowledge.core import KnowledgeBase

    paper = tmp_path / "shortconv.md"
    paper.write_text("# Short Convolutions in Feed-Forward Layers\n\n## Abstract\n\nA causal depthwise convolution "
                     "on the gate of a gated MLP.\n")
    library = KnowledgeBase(tmp_path / "store")
    library.ingest_path(paper, {"paper_id": "shortconv-2025", "year": 2025})
    config = config_for("claude-opus-4-1", run_budget_dollars=1.0)
    config.literature = False
    result, server = run_scenario("budget_stop", ["gpt"], "mutation", "claude-opus-4-1", config=config,
                                  knowledge=library)
    assert result.references == []
    assert "Short Convolutions in Feed-Forward Layers" not in server.requests[0].text


def test_provider_garbage_ends_the_design_with_a_record():
    result, server = run_scenario("provider_garbage", ["gpt"], "mutation", "claude-sonnet-4-5", retries=1)
    assert server.errors == [] and len(server.requests) == 2  # the malformed body was retried once
    assert result.status == "failed" and "malformed response" in result.failure
    (call,) = result.review_rounds[0]["calls"]
    assert call["role"] == "proposer" and "malformed" in call["error"] and call["attempts"] == 2


def test_wrong_number_of_parents_is_a_caller_error():
    with pytest.raises(ValueError, match="crossover takes two or more parents"):
        design([load_seed("gpt")], "crossover", config_for("m"))


# ---- full runs with the real checker ----------------------------------------------------------------
@pytest.fixture(scope="module")
def mutation_run():
    checker = real_checker()
    return run_scenario("mutation_repair", ["gpt"], "mutation", "claude-sonnet-4-5", checker=checker)


@pytest.mark.slow
def test_proposal_accepted_after_one_revision(mutation_run):
    result, server = mutation_run
    assert server.errors == [] and server.remaining == 0
    assert [(r["round"], r["score"], r["passed"]) for r in result.review_rounds] == [(1, 3, False), (2, 4, True)]
    # The reviewer's critique reached the proposer, and the reviewer saw its earlier review.
    assert "Pad the sequence on the left only" in server.requests[2].text
    assert "Your review of the previous version (score 3)" in server.requests[3].text
    assert result.proposal == result.review_rounds[1]["proposal"]
    assert "left padding" in result.proposal["units"][0]["change"]
    assert result.review_rounds[0]["proposal"]["units"][0]["change"] != result.proposal["units"][0]["change"]


@pytest.mark.slow
def test_unit_fails_the_checker_and_is_repaired_after_rollback(mutation_run):
    result, server = mutation_run
    first, second = result.trace
    assert (first["unit"], first["attempt"], first["passed"], first["rolled_back"]) == ("ShortConvGLU", 1, False, True)
    assert "padding=shortconv_kernel // 2" in first["code"]
    errors = [f for f in first["findings"] if f["severity"] == "error"]
    assert errors[0]["category"] == "non-causal" and first["check"]["passed"] is False
    # The findings went back to the coder with the rollback.
    assert "rejected and rolled back" in server.requests[6].text
    assert errors[0]["message"] in server.requests[6].text
    assert (second["attempt"], second["passed"], second["rating"]["rating"]) == (2, True, 4)
    assert first["plan"].startswith("## Plan for ShortConvGLU") and second["plan"] is None

    tree = result.tree
    assert result.status == "implemented" and result.check_report["passed"] is True
    assert "F.pad" in tree.units["ShortConvGLU"].code and "GatedMLP" not in tree.units
    assert "self.mlp = ShortConvGLU(" in tree.units["GPT2"].code
    assert tree.units["MHA"].code == load_seed("gpt").units["MHA"].code  # frozen parent units unchanged


@pytest.mark.slow
def test_the_result_records_cost_tokens_prompts_and_metrics(mutation_run):
    result, _ = mutation_run
    tokens_in, tokens_out, dollars = usage_cost("mutation_repair", 3.0, 15.0)
    assert (result.cost.tokens_in, result.cost.tokens_out) == (tokens_in, tokens_out)
    assert result.cost.dollars == pytest.approx(dollars)
    assert result.prompt_version.startswith("v1@")
    assert result.origin["kind"] == "llm" and result.origin["models"]["coder"] == "claude-sonnet-4-5"
    assert "no knowledge base" in result.origin["references_note"]
    m = result.metrics
    assert (m["valid"], m["attempts"], m["proposal_rounds"], m["calls"]) == (True, 2, 2, 8)
    assert m["new_units"] == ["ShortConvGLU"] and m["lines_of_code"] > 20
    assert sum(m["dollars_by_role"].values()) == pytest.approx(dollars)
    # Every call is in the trace with its prompt and reply; the whole result round-trips through JSON.
    calls = [c for r in result.review_rounds for c in r["calls"]] + [c for a in result.trace for c in a["calls"]]
    assert [c["role"] for c in calls] == ["proposer", "reviewer", "proposer", "reviewer", "planner", "coder",
                                          "coder", "observer"]
    assert all(c["messages"] and c["reply"] for c in calls)
    again = DesignerResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.tree.content_hash() == result.tree.content_hash() and again.trace == result.trace


@pytest.mark.slow
def test_malformed_replies_go_back_as_findings_and_never_crash():
    result, server = run_scenario("malformed_replies", ["gpt"], "mutation", "gpt-4.1", kind="openai",
                                  checker=real_checker())
    assert server.errors == [] and server.remaining == 0
    assert result.status == "implemented", result.failure
    proposer_calls = result.review_rounds[0]["calls"][:2]
    assert "never closed" in proposer_calls[0]["parse_error"] and proposer_calls[1]["parse_error"] is None
    first, second = result.trace
    assert first["findings"][0]["category"] == "format" and first["rolled_back"]
    assert "no ```python block found" in first["feedback"]
    observer_calls = [c for c in second["calls"] if c["role"] == "observer"]
    assert len(observer_calls) == 2 and "'novelty'" in observer_calls[0]["parse_error"]
    tree = result.tree
    assert "RMSNorm" not in tree.units and tree.units["GPT2"].code.count("DyTNorm(") == 2


@pytest.mark.slow
def test_crossover_of_two_seeds_through_an_openai_compatible_endpoint():
    result, server = run_scenario("crossover_compatible", ["gpt", "mamba2"], "crossover",
                                  "Qwen/Qwen2.5-Coder-32B-Instruct", checker=real_checker())
    assert server.errors == [] and all(r.path == "/v1/chat/completions" for r in server.requests)
    assert result.status == "implemented", result.failure
    assert result.parents == ["gpt", "mamba2"] and result.mode == "crossover"
    tree = result.tree
    assert {"AttnSSMHybrid", "MHA", "RotaryPositionalEmbeddings", "Mamba2Layer", "SSDMinimalDiscrete"} <= set(tree.units)
    assert tree.units["Mamba2Layer"].code == load_seed("mamba2").units["Mamba2Layer"].code
    assert result.metrics["new_units"] == ["AttnSSMHybrid"]
    # A local model has no price: the run cost nothing and says which model was unpriced.
    assert result.cost.dollars == 0 and result.metrics["unpriced_models"] == ["Qwen/Qwen2.5-Coder-32B-Instruct"]
    assert result.origin["providers"]["coder"] == "compatible"


def accepted_proposal() -> Proposal:
    data = json.loads(load_replies(REPLIES / "mutation_repair")[2].body["content"][0]["text"].split("```json")[1]
                      .split("```")[0])
    return Proposal.from_dict({**data, "units": data["units"]})


@pytest.mark.slow
def test_ablations_without_unit_by_unit_and_direct_prompting():
    checker = real_checker()
    proposal = accepted_proposal()
    config = config_for("claude-sonnet-4-5")
    config.ablation = variant("no_unit_by_unit")
    config.ablation.planner = config.ablation.observer = False
    whole, server = run_scenario("whole_design_repair", ["gpt"], "mutation", "claude-sonnet-4-5", config=config,
                                 checker=checker, proposal=proposal)
    assert server.errors == [] and whole.status == "implemented", whole.failure
    assert whole.metrics["attempts"] == 2 and whole.review_rounds == []
    assert whole.trace[0]["rolled_back"] and whole.trace[1]["passed"]

    # Direct prompting: one reply, no checker feedback; the same buggy reply makes an invalid design.
    config = config_for("claude-sonnet-4-5")
    config.ablation = variant("direct")
    os.environ.setdefault(KEY_ENV, "replay-key-not-real")
    with ReplayServer(load_replies(REPLIES / "whole_design_repair")[:1]) as server:
        point_config_at(server, config, key_env=KEY_ENV)
        direct = design([load_seed("gpt")], "mutation", config, checker=checker, proposal=proposal)
    assert direct.metrics["attempts"] == 1 and direct.metrics["valid"] is False
    assert direct.status == "failed" and direct.check_report["passed"] is False

    rows = {r.variant: r for r in compare({"no_unit_by_unit": [whole], "direct": [direct]})}
    assert rows["no_unit_by_unit"].valid == 1.0 and rows["direct"].valid == 0.0
    assert rows["direct"].paper_valid == 0.06
    assert "direct" in format_table(list(rows.values()))


@pytest.mark.llm
def test_a_real_provider_designs_a_mutation():
    """Only with a real key: one design end to end on the configured provider, within $1."""
    config = DesignerConfig.from_env()
    ready, why = config.llm_ready()
    if not ready:
        pytest.skip(f"no real LLM configured: {why}")
    config.limits.run_budget_dollars = 1.0
    result = design([load_seed("gpt")], "mutation", config, checker=real_checker())
    assert result.origin["kind"] == "llm" and result.review_rounds
    assert result.cost.dollars <= 1.0 + 0.5  # at most one call past the line


@pytest.mark.slow
def test_from_scratch_a_declared_child_joins_the_list_and_is_implemented_next():
    result, server = run_scenario("scratch_children", [], "scratch", "claude-haiku-4-5", checker=real_checker())
    assert server.errors == [] and server.remaining == 0
    assert result.status == "implemented", result.failure
    assert [(a["round"], a["unit"], a["passed"]) for a in result.trace] == [
        (1, "GatedConvBlock", True), (2, "ShortConvMixer", True)]
    # The root was checked with its child not yet written, then the child with the frozen root around it.
    assert result.trace[0]["check"]["focus_unit"] == "GatedConvBlock"
    assert result.trace[1]["check"]["focus_unit"] == "ShortConvMixer"
    tree = result.tree
    assert tree.root == "GatedConvBlock" and tree.units["GatedConvBlock"].children == ["ShortConvMixer"]
    assert result.metrics["new_units"] == ["GatedConvBlock", "ShortConvMixer"] and result.parents == []


def test_a_design_stops_after_the_failed_rounds_limit():
    config = config_for("claude-sonnet-4-5", max_debug_attempts=0, max_failed_rounds=2)
    result, server = run_scenario("failed_rounds", ["gpt"], "mutation", "claude-sonnet-4-5", config=config,
                                  proposal=accepted_proposal())
    assert server.errors == [] and server.remaining == 0
    assert result.status == "failed" and result.failure.startswith("2 failed rounds; the last, on unit ShortConvGLU")
    assert [(a["round"], a["attempt"], a["rolled_back"]) for a in result.trace] == [(1, 1, True), (2, 1, True)]
    assert result.metrics["attempts"] == 2 and result.metrics["valid"] is False
    # The tree handed back is the last accepted one: the parent with the unit still open.
    assert result.tree.unimplemented() == ["ShortConvGLU"]


def test_the_implementation_budget_stops_the_coder():
    config = config_for("claude-sonnet-4-5", implementation_budget_dollars=0.01)
    result, server = run_scenario("failed_rounds", ["gpt"], "mutation", "claude-sonnet-4-5", config=config,
                                  proposal=accepted_proposal())
    assert [r.served for r in server.requests] == ["01_planner.json"]  # the planner's $0.024 spent it
    assert result.failure.startswith("implementation budget reached: $0.0235 spent of $0.01")
    (attempt,) = result.trace
    assert [c["role"] for c in attempt["calls"]] == ["planner"] and attempt["plan"].startswith("## Plan")
    assert attempt["code"] is None and result.cost.dollars == pytest.approx(0.02352)
