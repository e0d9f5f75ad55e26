"""The native runtime's tool loop against a local OpenAI-compatible server (real HTTP via the SDK)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kneo.agents.request import AgentRequest
from kneo.agents.runtime import run_agent
from kneo.config import AgentSettings, load_agent_settings
from kneo.sandbox import OutboundNotAllowed, SecretNotAllowed
from kneo.secrets import MissingSecretError
from tests.support.listener import Listener
from tests.support.openai_stub import OpenAIStub, echo_last_tool, hang, status, text, tool_call

KEY = "kneo-unit-provider-key-0001"


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def provider_env(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


TOOLS = {
    "add": {
        "description": "Add two integers",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
        "implementation": "tests.support.agent_tools.add",
        "mcp": None,
        "agent": None,
    },
    "fetch": {
        "description": "Fetch a URL",
        "parameters": {"type": "object", "properties": {"url": {"type": "string"}}},
        "implementation": "tests.support.agent_tools.fetch",
        "mcp": None,
        "agent": None,
    },
    "slow": {
        "description": "A tool interrupted by the step time limit",
        "parameters": {},
        "implementation": "tests.support.agent_tools.out_of_time",
        "mcp": None,
        "agent": None,
    },
    "helper": {"description": "Ask the helper", "parameters": {}, "implementation": None, "mcp": None, "agent": "h"},
}


def agent(model: str, tools: list[str] | None = None, strategy: str = "react", **extra: Any) -> dict[str, Any]:
    return {
        "name": f"agent-{model}",
        "system_prompt": "Be brief.",
        "model": {"provider": "openai", "name": model, "extra": extra.pop("model_extra", {})},
        "strategy": strategy,
        "max_iterations": extra.pop("max_iterations", None),
        "runtime": {
            "preferred_mode": "native",
            "native_provider": "openai",
            "fallback_mode": extra.pop("fallback", None),
        },
        "tools": tools or [],
        "tool_permissions": extra.pop("permissions", None),
        "guardrails": extra.pop("guardrails", {}),
        "memory": extra.pop("memory", None),
        "skills": [],
    }


def run(spec: dict[str, Any], text_: str = "hello", settings: AgentSettings | None = None, **kw: Any) -> Any:
    plan = {"agents": {"h": agent("m-helper")}, "tools": TOOLS, "mcp_servers": {}, "skills": {}, "functions": {}}
    request = AgentRequest(plan, spec, text_, ["tests.support"], settings or AgentSettings(), **kw)
    return run_agent(request)


def types(outcome: Any) -> list[str]:
    return [e["type"] for e in outcome.events]


def test_react_multi_turn_tool_loop_records_usage(stub: OpenAIStub) -> None:
    stub.script("m-react", [tool_call("add", {"a": 2, "b": 3}), tool_call("add", {"a": 5, "b": 5}), echo_last_tool()])
    outcome = run(agent("m-react", ["add"]))
    assert outcome.error is None
    assert outcome.output_text == "Tool said: 10"
    assert types(outcome) == ["run_started", *["model_called", "tool_called"] * 2, "model_called", "run_completed"]
    model_calls = [e for e in outcome.events if e["type"] == "model_called"]
    assert model_calls[0]["metadata"]["usage"] == {"prompt_tokens": 13, "completion_tokens": 5, "total_tokens": 18}
    assert model_calls[0]["model_provider"] == "openai" and model_calls[0]["model_name"] == "m-react"
    assert outcome.events[-1]["metadata"]["usage"]["total_tokens"] == 18 * 2 + 18
    sent = stub.requests["m-react"][-1]
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert sent["tools"][0]["function"]["name"] == "add"
    assert stub.headers["m-react"][0]["authorization"] == f"Bearer {KEY}"


def test_simple_strategy_allows_one_tool_round(stub: OpenAIStub) -> None:
    stub.script("m-simple", [tool_call("add", {"a": 1, "b": 1}), echo_last_tool("done {}")])
    outcome = run(agent("m-simple", ["add"], strategy="simple"))
    assert outcome.output_text == "done 2"
    assert stub.requests["m-simple"][1]["tool_choice"] == "none"


def test_plan_act_plans_without_tools_first(stub: OpenAIStub) -> None:
    stub.script("m-plan", [text("1. add"), tool_call("add", {"a": 1, "b": 2}), echo_last_tool("= {}")])
    outcome = run(agent("m-plan", ["add"], strategy="plan-act"))
    assert outcome.output_text == "= 3"
    first, second = stub.requests["m-plan"][:2]
    assert "tools" not in first and "tools" in second
    assert [e["metadata"]["phase"] for e in outcome.events if e["type"] == "model_called"] == ["plan", "act", "act"]


def test_max_iterations_fails_the_step(stub: OpenAIStub) -> None:
    stub.script("m-loop", [tool_call("add", {"a": 1, "b": 1})])
    outcome = run(agent("m-loop", ["add"], max_iterations=3))
    assert outcome.error["type"] == "MaxIterationsExceeded"
    assert stub.count("m-loop") == 3
    assert types(outcome)[-1] == "run_failed"


def test_429_then_200_is_retried(stub: OpenAIStub) -> None:
    stub.script("m-429", [status(429, headers={"Retry-After": "0"}), status(503), text("ok")])
    outcome = run(agent("m-429"), settings=AgentSettings(provider_retries=2, provider_retry_backoff_seconds=0.01))
    assert outcome.output_text == "ok"
    assert outcome.events[1]["metadata"]["attempts"] == 3


def test_retries_exhausted_is_a_provider_error(stub: OpenAIStub) -> None:
    stub.script("m-500", [status(500)])
    outcome = run(agent("m-500"), settings=AgentSettings(provider_retries=1))
    assert outcome.error["type"] == "ProviderError"
    assert stub.count("m-500") == 2


def test_hanging_provider_times_out(stub: OpenAIStub) -> None:
    stub.script("m-hang", [hang(5)])
    outcome = run(agent("m-hang"), settings=AgentSettings(provider_timeout_seconds=0.5))
    assert outcome.error["type"] == "ProviderError"
    assert "APITimeoutError" in outcome.error["message"]


def test_should_stop_between_model_and_tool_calls(stub: OpenAIStub) -> None:
    stub.script("m-stop", [tool_call("add", {"a": 1, "b": 1})])
    checks = iter([False, True])
    outcome = run(agent("m-stop", ["add"]), should_stop=lambda: next(checks, True))
    assert outcome.error is None
    assert types(outcome) == ["run_started", "model_called", "run_stopped"]
    assert stub.count("m-stop") == 1


def test_agent_as_tool_and_denied_domain(stub: OpenAIStub) -> None:
    stub.script("m-helper", [text("helper says hi")])
    stub.script(
        "m-parent",
        [
            tool_call("helper", {"input": "hi"}, ("fetch", {"url": "https://evil.example.net/x"})),
            echo_last_tool("last: {}"),
        ],
    )
    permissions = {"allowed_domains": ["example.com"], "denied_domains": [], "allow_network": True}
    outcome = run(agent("m-parent", ["helper", "fetch"], permissions=permissions))
    tool_events = [e for e in outcome.events if e["type"] == "tool_called"]
    assert tool_events[0]["output_text"] == "helper says hi"
    assert "denied" in tool_events[1]["metadata"]
    assert outcome.output_text.startswith("last: Tool call denied: domain 'evil.example.net'")
    assert any(e["agent_name"] == "agent-m-helper" for e in outcome.events)


def test_guardrails_input_block_and_tool_redact(stub: OpenAIStub) -> None:
    guards = {"input": [{"id": "no-pw", "type": "keyword", "action": "block", "config": {"keywords": ["password"]}}]}
    outcome = run(agent("m-never", guardrails=guards), "my password is x")
    assert outcome.error["type"] == "GuardrailViolation"
    assert stub.count("m-never") == 0
    stub.script("m-redact", [tool_call("add", {"a": 40, "b": 2}), echo_last_tool("{}")])
    guards = {"tool": [{"id": "no-42", "type": "regex", "action": "redact", "config": {"patterns": ["^42$"]}}]}
    outcome = run(agent("m-redact", ["add"], guardrails=guards))
    assert outcome.output_text == "[redacted by tool result guardrail]"
    assert any(e["type"] == "guardrail_triggered" for e in outcome.events)


def test_missing_key_is_a_clear_error_and_bridge_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(MissingSecretError, match=r"provider:openai.*OPENAI_API_KEY"):
        run(agent("m-x"))
    outcome = run(agent("m-x", fallback="bridge"), "hi")
    assert outcome.output_text == "Final answer: hi"
    with pytest.raises(MissingSecretError):
        run(agent("m-x", fallback="bridge"), settings=AgentSettings(require_provider_secrets=True))


def test_per_agent_endpoint_and_key_env(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setenv("LOCAL_LLM_API_KEY", "local-llm-key-123")
    stub.script("m-local", [text("local")])
    spec = agent("m-local", model_extra={"base_url": stub.base_url, "api_key_env": "LOCAL_LLM_API_KEY"})
    with pytest.raises(OutboundNotAllowed):
        run(spec)
    allowed = {"KNEO_SERV_OUTBOUND_ALLOWLIST": stub.origin}
    with pytest.raises(SecretNotAllowed):
        run(spec, settings=load_agent_settings(allowed))
    assert stub.count("m-local") == 0
    listed = load_agent_settings({**allowed, "KNEO_SERV_SECRET_ALLOWLIST": "LOCAL_LLM_API_KEY"})
    assert run(spec, settings=listed).output_text == "local"
    assert stub.headers["m-local"][0]["authorization"] == "Bearer local-llm-key-123"


def test_deployment_key_goes_only_to_the_deployment_endpoint(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")  # the deployment's own endpoint is now the provider default
    stub.script("m-chosen", [text("chosen")])
    settings = load_agent_settings({"KNEO_SERV_OUTBOUND_ALLOWLIST": stub.origin})
    assert run(agent("m-chosen", model_extra={"base_url": stub.base_url}), settings=settings).output_text == "chosen"
    assert stub.headers["m-chosen"][0]["authorization"] == "Bearer no-key"
    with pytest.raises(SecretNotAllowed):  # never a service setting, even when listed
        run(agent("m-chosen", model_extra={"api_key_env": "KNEO_SERV_ADMIN_API_KEY"}), settings=settings)


def test_python_tool_outside_allowlist_is_refused() -> None:
    tools: dict[str, Any] = {
        "bad": {"description": "x", "parameters": {}, "implementation": "json.dumps", "mcp": None, "agent": None}
    }
    plan = {"agents": {}, "tools": tools, "mcp_servers": {}, "skills": {}, "functions": {}}
    request = AgentRequest(plan, agent("m-any", ["bad"]), "x", ["tests.support"], AgentSettings())
    with pytest.raises(Exception, match="not in an allowed module"):
        run_agent(request)


def test_step_time_limit_inside_a_tool_ends_the_step(stub: OpenAIStub) -> None:
    stub.script("m-slow-tool", [tool_call("slow", {}), text("never")])
    outcome = run(agent("m-slow-tool", ["slow"]))
    assert outcome.error["type"] == "SoftTimeLimitExceeded"
    assert stub.count("m-slow-tool") == 1


def test_a_redirect_from_a_listed_endpoint_is_not_followed(stub: OpenAIStub) -> None:
    attacker = Listener()
    try:
        stub.script("m-redirect", [status(307, headers={"Location": f"{attacker.origin}/v1/chat/completions"})])
        settings = load_agent_settings({"KNEO_SERV_OUTBOUND_ALLOWLIST": stub.origin})
        outcome = run(agent("m-redirect", model_extra={"base_url": stub.base_url, "max_retries": 0}), settings=settings)
        assert outcome.error is not None and "307" in outcome.error["message"]
        assert attacker.received == []
    finally:
        attacker.stop()
