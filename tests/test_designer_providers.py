"""Providers through the real anthropic and openai SDK clients against recorded replies at the HTTP
edge: text, tokens, cost and latency out; retries with backoff; errors that must not be retried;
the budget; pricing; configuration from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from designer.core.budget import Budget, BudgetExhausted
from designer.core.config import DesignerConfig, ProviderSettings
from designer.core.pricing import call_cost, price_per_mtok
from designer.core.providers import MalformedReply, Message, ProviderError, make_provider
from designer.core.replay_server import RecordedReply, ReplayServer

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

REPLIES = Path(__file__).parent / "data" / "llm_replies" / "providers"
HELLO = [Message("user", "Say hello.")]


def reply(name: str) -> RecordedReply:
    return RecordedReply.from_file(REPLIES / f"{name}.json")


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


def provider(kind: str, url: str, **settings):
    settings.setdefault("backoff_base_s", 0.01)
    return make_provider(ProviderSettings(kind=kind, base_url=url, timeout_s=5, **settings))


def test_anthropic_reply_gives_text_tokens_cost_and_latency(keys):
    with ReplayServer([reply("anthropic_ok")]) as server:
        out = provider("anthropic", server.base_url).complete(HELLO, model="claude-sonnet-4-5", system="Be brief.")
        request = server.requests[0]
    assert out.text == "Hello from the recorded Anthropic reply."
    assert (out.tokens_in, out.tokens_out, out.attempts) == (1200, 35, 1)
    assert out.model == "claude-sonnet-4-5-20250929" and out.priced
    assert out.dollars == pytest.approx((1200 * 3 + 35 * 15) / 1e6)
    assert out.latency_s > 0 and out.stop_reason == "end_turn"
    # What went over the wire is the Messages API: system apart, messages, max_tokens, the key header.
    assert request.path == "/v1/messages"
    assert request.body["system"] == "Be brief."
    assert request.body["messages"] == [{"role": "user", "content": "Say hello."}]
    assert request.body["model"] == "claude-sonnet-4-5" and request.body["max_tokens"] > 0


def test_openai_and_compatible_endpoints_speak_chat_completions(keys):
    with ReplayServer([reply("openai_ok"), reply("compatible_ok")]) as server:
        out = provider("openai", server.openai_base_url).complete(HELLO, model="gpt-4.1", system="Be brief.")
        local = provider("compatible", server.openai_base_url).complete(HELLO, model="Qwen/Qwen2.5-Coder-32B-Instruct")
        first, second = server.requests
    assert out.text == "Hello from the recorded OpenAI reply." and (out.tokens_in, out.tokens_out) == (1300, 40)
    assert out.dollars == pytest.approx((1300 * 2 + 40 * 8) / 1e6)
    assert first.path == "/v1/chat/completions"
    assert first.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert "max_completion_tokens" in first.body  # OpenAI's own API
    assert "max_tokens" in second.body  # what vLLM, llama.cpp and Ollama understand
    # A local model has no list price: it costs nothing and says so.
    assert local.text == "Hello from a local vLLM server." and local.dollars == 0 and not local.priced


def test_compatible_endpoint_needs_no_key_and_tolerates_missing_usage(monkeypatch):
    monkeypatch.delenv("GENESYS_LLM_API_KEY", raising=False)
    settings = ProviderSettings(kind="compatible", base_url="http://127.0.0.1:1/v1")
    assert settings.ready() == (True, "")
    with ReplayServer([reply("ollama_no_usage")]) as server:
        out = provider("compatible", server.openai_base_url).complete(HELLO, model="llama3.1:8b")
    assert out.text == "Hello from Ollama." and out.tokens_out > 0  # estimated from the text


def test_rate_limits_and_server_errors_are_retried_honouring_retry_after(keys):
    waits: list[float] = []
    replies = [reply("anthropic_rate_limited"), reply("anthropic_overloaded"), reply("anthropic_ok")]
    with ReplayServer(replies) as server:
        p = provider("anthropic", server.base_url, max_retries=3, backoff_base_s=0.02)
        p.sleep = waits.append
        out = p.complete(HELLO, model="claude-sonnet-4-5")
        assert len(server.requests) == 3
    assert out.attempts == 3 and out.text.startswith("Hello")
    assert waits[0] == 0.0  # the 429 said retry-after: 0
    assert 0.01 <= waits[1] <= 0.04  # the 529 said nothing: exponential backoff with jitter

    waits.clear()
    with ReplayServer([reply("openai_rate_limited"), reply("openai_server_error"), reply("openai_ok")]) as server:
        p = provider("openai", server.openai_base_url, max_retries=2)
        p.sleep = waits.append
        assert p.complete(HELLO, model="gpt-4.1").attempts == 3
    assert waits[0] == pytest.approx(0.01)  # retry-after-ms: 10


def test_retries_stop_at_the_limit_and_auth_errors_are_not_retried(keys):
    with ReplayServer([reply("openai_server_error")] * 3) as server:
        p = provider("openai", server.openai_base_url, max_retries=1)
        p.sleep = lambda s: None
        with pytest.raises(ProviderError, match="500") as err:
            p.complete(HELLO, model="gpt-4.1")
        assert err.value.attempts == 2 and server.remaining == 1
    with ReplayServer([reply("anthropic_auth_error"), reply("anthropic_ok")]) as server:
        with pytest.raises(ProviderError, match="401: invalid x-api-key") as err:
            provider("anthropic", server.base_url, max_retries=3).complete(HELLO, model="claude-sonnet-4-5")
        assert err.value.status == 401 and not err.value.retryable and len(server.requests) == 1


def test_timeouts_are_retried_then_reported(keys):
    slow = RecordedReply(body=reply("anthropic_ok").body, delay_s=1.5)
    with ReplayServer([slow, slow]) as server:
        p = make_provider(ProviderSettings(kind="anthropic", base_url=server.base_url, timeout_s=0.3, max_retries=1,
                                           backoff_base_s=0.01))
        with pytest.raises(ProviderError, match="timed out") as err:
            p.complete(HELLO, model="claude-sonnet-4-5")
    assert err.value.attempts == 2


def test_a_malformed_body_is_a_retryable_malformed_reply(keys):
    garbage = RecordedReply(body="<html>502 Bad Gateway</html>")
    with ReplayServer([garbage, garbage]) as server:
        p = provider("anthropic", server.base_url, max_retries=1)
        with pytest.raises(MalformedReply, match="malformed"):
            p.complete(HELLO, model="claude-sonnet-4-5")
        assert len(server.requests) == 2


def test_http_client_with_a_mock_transport_reaches_the_sdk(keys):
    """The SDK's own http_client hook works as an HTTP edge too."""
    body = reply("openai_ok").body
    seen: list[dict] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        return httpx2.Response(200, json=body)

    client = httpx2.Client(transport=httpx2.MockTransport(handle))
    p = make_provider(ProviderSettings(kind="openai"), http_client=client)
    assert p.complete(HELLO, model="gpt-4.1").text == "Hello from the recorded OpenAI reply."
    assert seen[0]["model"] == "gpt-4.1"


def test_budget_refuses_calls_once_spent_and_nests():
    run = Budget(1.0, "run")
    implementation = run.child(0.5, "implementation")
    implementation.charge(0.4)
    implementation.ensure_available()
    implementation.charge(0.2)  # the call that crossed the line is still recorded
    with pytest.raises(BudgetExhausted, match=r"implementation budget reached: \$0.6000 spent of \$0.50"):
        implementation.ensure_available()
    assert run.spent == pytest.approx(0.6)
    run.ensure_available()  # the run still has money for, e.g., the final report
    run.charge(0.5)
    with pytest.raises(BudgetExhausted, match="run budget"):
        run.ensure_available()


def test_prices_match_a_model_or_its_dated_snapshot_and_overrides_win():
    assert price_per_mtok("claude-sonnet-4-5-20250929") == (3.0, 15.0)
    assert price_per_mtok("gpt-4.1-mini-2025-04-14") == (0.4, 1.6)
    assert price_per_mtok("gpt-4.1-mini") == (0.4, 1.6)
    assert price_per_mtok("gpt-5.4-nano") is None  # not a snapshot of gpt-5: an unlisted model
    assert price_per_mtok("my-local-model") is None
    assert call_cost("gpt-4.1", 1_000_000, 0, {"gpt-4.1": (1.0, 1.0)}) == 1.0
    assert call_cost("my-local-model", 1_000_000, 0) == 0.0
    assert call_cost("some-new-model", 1_000_000, 0, unknown=(15.0, 75.0)) == 15.0


def test_an_unlisted_model_on_a_paid_api_is_charged_high_and_flagged(keys):
    with ReplayServer([reply("openai_ok")]) as server:
        out = provider("openai", server.openai_base_url).complete(HELLO, model="gpt-9-preview")
    # The reply names gpt-4.1-2025-04-14 (listed), so it is priced by what answered.
    assert out.priced and out.dollars == pytest.approx((1300 * 2 + 40 * 8) / 1e6)
    body = dict(reply("openai_ok").body, model="gpt-9-preview")
    with ReplayServer([RecordedReply(body=body)]) as server:
        out = provider("openai", server.openai_base_url).complete(HELLO, model="gpt-9-preview")
    assert not out.priced and out.dollars == pytest.approx((1300 * 15 + 40 * 75) / 1e6)


def test_config_from_env_picks_the_provider_with_a_key():
    config = DesignerConfig.from_env({"OPENAI_API_KEY": "x", "GENESYS_CODER_MODEL": "gpt-4.1-mini"})
    assert config.roles["proposer"].provider == "openai" and config.roles["proposer"].model == "gpt-4.1"
    assert config.roles["coder"].model == "gpt-4.1-mini"
    local = DesignerConfig.from_env({"GENESYS_LLM_BASE_URL": "http://127.0.0.1:8000/v1", "GENESYS_LLM_MODEL": "qwen"})
    assert local.roles["planner"].provider == "compatible" and local.llm_ready() == (True, "")
    assert DesignerConfig.from_dict(local.to_dict()) == local


def test_config_without_a_key_is_not_ready(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    ready, why = DesignerConfig.from_env({}).llm_ready()
    assert not ready and "ANTHROPIC_API_KEY is not set" in why
