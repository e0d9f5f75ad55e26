"""The examples under examples/agents/ validate, compile and run (against the local stub provider)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kneo import specs
from kneo.agents.mcp_pool import close_pool
from kneo.agents.request import AgentRequest
from kneo.agents.runtime import run_agent
from kneo.config import AgentSettings, load_agent_settings
from kneo.sandbox import OutboundNotAllowed, SkillRoot
from tests.support.openai_stub import OpenAIStub, echo_last_tool, tool_call

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "agents").glob("*.yaml"))
ALLOWED = ("examples",)


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub().start()
    yield server
    server.stop()
    close_pool()


def _plan(name: str) -> dict[str, Any]:
    raw = specs.load_document(None, f"examples/agents/{name}", spec_root=ROOT)
    return specs.compile_document(raw, target="agent", allowed_modules=ALLOWED, skills=SkillRoot(ROOT))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates(path: Path) -> None:
    raw = specs.load_document(None, str(path.relative_to(ROOT)), spec_root=ROOT)
    report = specs.validate_document(raw, allowed_modules=ALLOWED)
    assert report.valid, [d for d in report.errors]
    plan = specs.compile_document(raw, target="agent", allowed_modules=ALLOWED, skills=SkillRoot(ROOT))
    assert plan["agents"][plan["root_agent"]]["runtime"]["preferred_mode"] == "native"


def test_local_example_runs_against_an_openai_compatible_server(
    stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_LLM_API_KEY", "ollama")
    plan = _plan("local_openai_compatible.yaml")
    agent = plan["agents"][plan["root_agent"]]
    agent["model"]["extra"]["base_url"] = stub.base_url  # instead of Ollama's http://127.0.0.1:11434/v1
    stub.script("llama3.1", [tool_call("word_stats", {"text": "a b c d"}), echo_last_tool("Stats: {}")])
    with pytest.raises(OutboundNotAllowed):  # loopback is reached only when listed
        run_agent(AgentRequest(plan, agent, "count: a b c d", ALLOWED, AgentSettings()))
    assert stub.count("llama3.1") == 0
    settings = load_agent_settings(
        {"KNEO_SERV_OUTBOUND_ALLOWLIST": stub.origin, "KNEO_SERV_SECRET_ALLOWLIST": "LOCAL_LLM_API_KEY"}
    )
    outcome = run_agent(AgentRequest(plan, agent, "count: a b c d", ALLOWED, settings))
    assert outcome.output_text == 'Stats: {"words": 4, "characters": 7, "lines": 1}'


def test_mcp_stdio_example_runs(stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "example-test-key")
    monkeypatch.setenv("EXAMPLE_MCP_TOKEN", "example-mcp-token")
    plan = _plan("mcp_stdio.yaml")
    plan["mcp_servers"]["word_tools"].update(command=sys.executable, cwd=str(ROOT))
    stub.script("gpt-4o-mini", [tool_call("reverse", {"text": "kneo"}), echo_last_tool("Reversed: {}")])
    agent = plan["agents"][plan["root_agent"]]
    # The embedded default trusts the example server; its token is listed as the example says.
    embedded = {"KNEO_SERV_MCP_TIMEOUT_SECONDS": "20", "KNEO_SERV_SECRET_ALLOWLIST": "EXAMPLE_MCP_TOKEN"}
    outcome = run_agent(AgentRequest(plan, agent, "reverse kneo", ALLOWED, load_agent_settings(embedded)))
    assert outcome.error is None, outcome.error
    assert outcome.output_text == "Reversed: oenk"
    schema = stub.requests["gpt-4o-mini"][0]["tools"][0]["function"]["parameters"]
    assert schema["properties"]["text"]["type"] == "string"


def test_openai_example_falls_back_to_bridge_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    plan = _plan("openai_tools.yaml")
    agent = plan["agents"][plan["root_agent"]]
    outcome = run_agent(AgentRequest(plan, agent, "hello", ALLOWED, AgentSettings()))
    assert outcome.output_text == "Final answer: hello"
