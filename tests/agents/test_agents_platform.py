"""Native agents through the real platform (gunicorn + Celery on PostgreSQL and Redis) against a local
OpenAI-compatible server started by the tests, and MCP servers over stdio and streamable HTTP."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mcp_process import mcp_http_server
from tests.support.openai_stub import OpenAIStub, delayed, echo_last_tool, hang, status, text, tool_call
from tests.support.services import ROOT, Api, start_topology

pytestmark = pytest.mark.e2e

REDIS_DB = 10
PROVIDER_KEY = "kneo-it-provider-key-5f1c9a"
TOOL_KEY = "kneo-it-tool-secret-7d2e40"
MCP_TOKEN = "kneo-it-mcp-token-a91b33"
SECRETS = (PROVIDER_KEY, TOOL_KEY, MCP_TOKEN)


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mcp_http_url() -> Iterator[str]:
    with mcp_http_server() as url:
        yield url


@pytest.fixture(scope="module")
def platform(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, stub: OpenAIStub, mcp_http_url: str
) -> Iterator[Api]:
    workdir = tmp_path_factory.mktemp("agents")
    topology = start_topology(
        workdir,
        module_database_url,
        REDIS_DB,
        OPENAI_BASE_URL=stub.base_url,
        OPENAI_API_KEY=PROVIDER_KEY,
        KNEO_TEST_TOOL_API_KEY=TOOL_KEY,
        KNEO_TEST_MCP_TOKEN=MCP_TOKEN,
        KNEO_SERV_ALLOWED_MODULES="tests.support",
        KNEO_SERV_PROVIDER_RETRIES="2",
        KNEO_SERV_PROVIDER_RETRY_BACKOFF_SECONDS="0.05",
        KNEO_SERV_PROVIDER_TIMEOUT_SECONDS="3",
        KNEO_SERV_MCP_TIMEOUT_SECONDS="20",
        KNEO_SERV_HEALTH_PROVIDERS="openai",
        KNEO_SERV_HEALTH_MCP_SECRETS="KNEO_TEST_MCP_TOKEN",
        # The allow-lists as docs/operations/security.md says: the loopback MCP server is listed
        # explicitly (the deployment's own OPENAI_BASE_URL needs no entry).
        KNEO_SERV_MCP_COMMANDS=f"{sys.executable} -m tests.support.mcp_server",
        KNEO_SERV_OUTBOUND_ALLOWLIST=mcp_http_url.rsplit("/", 1)[0],
        KNEO_SERV_SECRET_ALLOWLIST="KNEO_TEST_MCP_TOKEN,NOT_SET_ANYWHERE",
    )
    api = Api(topology.base_url, topology, module_database_url)
    api.workdir = workdir
    yield api
    topology.stop()


def sql(api: Api, statement: str, *args: object) -> list[tuple[Any, ...]]:
    return api.sql(statement, *args)


NATIVE = {"preferred_mode": "native", "allowed_modes": ["native"], "native_provider": "openai"}
TOOLS: dict[str, dict[str, Any]] = {
    "add": {
        "description": "Add two integers.",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
        "implementation": "tests.support.agent_tools.add",
    },
    "leak": {"description": "A tool that leaks a secret.", "implementation": "tests.support.agent_tools.leak"},
    "word_count": {"description": "Count words (stdio MCP).", "mcp": {"server": "local"}},
    "reveal": {"description": "Leaky MCP tool.", "mcp": {"server": "local"}},
    "shout": {"description": "Upper-case (HTTP MCP).", "mcp": {"server": "remote"}},
}


def native_agent(
    model: str, tools: tuple[str, ...] = (), strategy: str = "react", **model_extra: Any
) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "name": f"agent-{model}",
        "system_prompt": "Use the tools.",
        "model": {"provider": "openai", "name": model, **model_extra},
        "strategy": {"type": strategy, "max_iterations": 10},
        "runtime_preferences": dict(NATIVE),
    }
    if tools:
        agent["tools"] = {"include": list(tools), "permissions": {"allow_network": False}}
    return agent


def agent_spec(model: str, tools: tuple[str, ...] = (), mcp_http_url: str | None = None, **kw: Any) -> dict[str, Any]:
    servers: dict[str, Any] = {
        "local": {
            "transport": "stdio",
            "command": sys.executable,
            "args": ["-m", "tests.support.mcp_server"],
            "cwd": str(ROOT),
            "env": {"SECRET_TOKEN": "${KNEO_TEST_MCP_TOKEN}"},
        }
    }
    if mcp_http_url:
        servers["remote"] = {"transport": "http", "url": mcp_http_url}
    used = {name: TOOLS[name] for name in tools}
    spec: dict[str, Any] = {"version": "v1", "agent": native_agent(model, tools, **kw), "tools": used}
    if any("mcp" in TOOLS[name] for name in tools):
        spec["mcp_servers"] = {
            k: v for k, v in servers.items() if any(TOOLS[t].get("mcp", {}).get("server") == k for t in tools)
        }
    return spec


def trace(api: Api, run_id: str) -> list[dict[str, Any]]:
    response = api.call("GET", f"/v1/runs/{run_id}/trace?limit=100")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def test_multi_turn_tool_loop_completes(platform: Api, stub: OpenAIStub) -> None:
    stub.script(
        "it-loop", [tool_call("add", {"a": 2, "b": 3}), tool_call("add", {"a": 5, "b": 5}), echo_last_tool("Sum: {}")]
    )
    run = platform.create_run(agent_spec("it-loop", ("add",)), "add things")
    assert run["status"] == "completed", run
    assert run["output_text"] == "Sum: 10"
    events = trace(platform, run["run_id"])
    model_calls = [e for e in events if e["type"] == "model_called"]
    assert len(model_calls) == 3
    assert all(e["metadata"]["usage"]["total_tokens"] > 0 for e in model_calls)
    assert model_calls[0]["model_provider"] == "openai" and model_calls[0]["runtime_mode"] == "native"
    assert [e["tool_name"] for e in events if e["type"] == "tool_called"] == ["add", "add"]
    assert [m["role"] for m in stub.requests["it-loop"][-1]["messages"]][-2:] == ["assistant", "tool"]


def test_429_then_200_is_retried(platform: Api, stub: OpenAIStub) -> None:
    stub.script("it-429", [status(429), text("after retry")])
    run = platform.create_run(agent_spec("it-429"), "retry me")
    assert run["status"] == "completed" and run["output_text"] == "after retry"
    assert stub.count("it-429") == 2
    model_call = next(e for e in trace(platform, run["run_id"]) if e["type"] == "model_called")
    assert model_call["metadata"]["attempts"] == 2


def _hang_flow(agent: dict[str, Any], **step: Any) -> dict[str, Any]:
    return {
        "version": "v1",
        "agent": {"name": "root", "runtime_preferences": {"preferred_mode": "bridge"}},
        "workflow": {
            "type": "sequential",
            "name": "hang-flow",
            "steps": [
                {"id": "think", "kind": "agent", "ref": "thinker", "on_error": "continue", **step},
                {"id": "after", "kind": "function", "ref": "upper"},
            ],
        },
        "components": {
            "agents": {"thinker": agent},
            "functions": {"upper": {"implementation": "tests.support.functions.upper"}},
        },
    }


@pytest.mark.parametrize(
    ("model", "model_extra", "step", "error_type"),
    [
        ("it-hang-provider", {"extra": {"max_retries": 0}}, {}, "ProviderError"),  # KNEO_SERV_PROVIDER_TIMEOUT_SECONDS
        ("it-hang-step", {"extra": {"max_retries": 0}}, {"timeout_seconds": 2}, "StepTimeout"),  # soft time limit
    ],
)
def test_hanging_provider_times_out_and_on_error_continue_applies(
    platform: Api, stub: OpenAIStub, model: str, model_extra: dict[str, Any], step: dict[str, Any], error_type: str
) -> None:
    stub.script(model, [hang(90)])
    agent = native_agent(model, **model_extra)
    if step:
        agent["model"]["timeout_seconds"] = 30
    started = time.monotonic()
    run = platform.create_run(_hang_flow(agent, **step), "slow thought")
    assert run["status"] == "completed", run
    assert platform.run(run["run_id"])["visited_steps"] == ["think", "after"]
    assert run["output_text"] == "SLOW THOUGHT"
    assert time.monotonic() - started < 60, (time.monotonic() - started, stub.count(model))
    [(error,)] = sql(platform, "SELECT error FROM step_runs WHERE run_id=%s AND step_id='think'", run["run_id"])
    assert error["type"] == error_type, error
    assert "timed out" in error["message"].lower() or "Timeout" in error["message"]


def test_cancelling_a_run_stops_the_loop_between_calls(platform: Api, stub: OpenAIStub) -> None:
    stub.script("it-cancel", [delayed(0.7, tool_call("add", {"a": 1, "b": 1}))])
    run = platform.create_run(agent_spec("it-cancel", ("add",)), "loop forever", async_mode=True)
    deadline = time.monotonic() + 30
    while stub.count("it-cancel") < 1:
        assert time.monotonic() < deadline, "the agent never called the model"
        time.sleep(0.05)
    response = platform.call("POST", f"/v1/runs/{run['run_id']}/cancel")
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 20
    while sql(platform, "SELECT 1 FROM step_runs WHERE run_id=%s AND status='running'", run["run_id"]):
        assert time.monotonic() < deadline, "the loop did not stop"
        time.sleep(0.1)
    calls = stub.count("it-cancel")
    time.sleep(2)
    assert stub.count("it-cancel") == calls <= 3
    assert platform.run(run["run_id"])["status"] == "cancelled"
    types = [row[0] for row in sql(platform, "SELECT type FROM trace_events WHERE run_id=%s", run["run_id"])]
    assert "run_stopped" in types


def test_agent_calls_a_stdio_mcp_tool(platform: Api, stub: OpenAIStub) -> None:
    stub.script("it-stdio", [tool_call("word_count", {"text": "one two three"}), echo_last_tool()])
    run = platform.create_run(agent_spec("it-stdio", ("word_count",)), "count words")
    assert run["status"] == "completed", run
    assert run["output_text"] == "Tool said: 3 words"
    offered = stub.requests["it-stdio"][0]["tools"][0]["function"]
    assert offered["parameters"]["properties"]["text"]["type"] == "string"  # imported from the MCP server


def test_agent_calls_a_streamable_http_mcp_tool(platform: Api, stub: OpenAIStub, mcp_http_url: str) -> None:
    stub.script("it-http", [tool_call("shout", {"text": "quiet please"}), echo_last_tool()])
    run = platform.create_run(agent_spec("it-http", ("shout",), mcp_http_url), "shout")
    assert run["status"] == "completed", run
    assert run["output_text"] == "Tool said: QUIET PLEASE"


def _leaky_error(_body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return status(400, {"error": {"message": f"rejected credential {headers.get('authorization')}", "type": "x"}})


def test_secret_values_never_leak(platform: Api, stub: OpenAIStub) -> None:
    stub.script(
        "it-leak",
        [tool_call("leak", {}), tool_call("reveal", {"name": "SECRET_TOKEN"}), echo_last_tool("Done: {}")],
    )
    stub.script("it-leak-error", [_leaky_error])
    text_in = f"use {PROVIDER_KEY} and {TOOL_KEY} and {MCP_TOKEN} please"
    ok = platform.create_run(agent_spec("it-leak", ("leak", "reveal")), text_in)
    assert ok["status"] == "completed", ok
    assert ok["output_text"] == "Done: value of SECRET_TOKEN: [REDACTED]"
    failed = platform.call("POST", "/v1/runs", json={"input": text_in, "spec": agent_spec("it-leak-error")})
    # The model saw the tool results already scrubbed; the provider got its key only in the header.
    sent = str(stub.requests["it-leak"]) + str(stub.requests["it-leak-error"])
    assert TOOL_KEY not in sent and MCP_TOKEN not in sent and PROVIDER_KEY not in sent
    assert "[REDACTED]" in str(stub.requests["it-leak"][-1]["messages"])
    assert "rejected credential" in str(_leaky_error({}, {"authorization": "x"}))

    bodies = [failed.text]
    run_ids = [ok["run_id"]] + [r[0] for r in sql(platform, "SELECT id FROM runs WHERE id <> %s", ok["run_id"])]
    for run_id in run_ids:
        for path in ("", "/trace", "/checkpoints", "/replay", "/recovery"):
            response = platform.call("GET", f"/v1/runs/{run_id}{path}")
            bodies.append(response.text)
    bodies.append(platform.call("GET", "/v1/audit-events?limit=100", role="admin").text)
    bodies.append(platform.call("GET", "/v1/security/credentials?extras=KNEO_TEST_MCP_TOKEN").text)
    bodies.append(platform.call("GET", "/readyz", role=None).text)
    failed_run = [r for r in run_ids if r != ok["run_id"]]
    assert any("rejected credential" in b for b in bodies), "the provider error was recorded"
    assert failed_run and any('"status":"failed"' in b for b in bodies)
    logs = {p.name: p.read_text(errors="replace") for p in Path(platform.workdir).glob("*.log")}
    assert logs
    tables = [row[0] for row in sql(platform, "SELECT tablename FROM pg_tables WHERE schemaname='public'")]
    dumps = {t: str(sql(platform, f'SELECT row_to_json(t)::text FROM "{t}" t')) for t in tables}
    assert {"runs", "step_runs", "checkpoints", "trace_events", "audit_events"} <= set(dumps)
    for secret in SECRETS:
        for body in bodies:
            assert secret not in body
        for name, log in logs.items():
            assert secret not in log, f"{secret} in {name}"
        for table, dump in dumps.items():
            assert secret not in dump, f"{secret} in table {table}"


def test_readyz_checks_provider_and_mcp_secrets(platform: Api) -> None:
    response = platform.call("GET", "/readyz", role=None)
    assert response.status_code == 200, response.text
    checks = response.json()["metadata"]["checks"]
    assert checks["runtime_registry"]["names"] == ["bridge", "native"]
    assert checks["providers"]["items"]["openai"] == {
        "name": "provider:openai",
        "env_var": "OPENAI_API_KEY",
        "present": True,
        "value": "[REDACTED]",
    }
    assert checks["mcp"]["ok"] is True
    assert checks["mcp"]["items"]["KNEO_TEST_MCP_TOKEN"]["present"] is True


def test_credentials_inventory_is_references_only(platform: Api) -> None:
    response = platform.call("GET", "/v1/security/credentials?extras=KNEO_TEST_MCP_TOKEN&extras=NOT_SET_ANYWHERE")
    assert response.status_code == 200, response.text
    inventory = response.json()["inventory"]
    assert inventory["service_tokens"]["KNEO_SERV_ADMIN_API_KEY"] == {
        "name": "service:KNEO_SERV_ADMIN_API_KEY",
        "env_var": "KNEO_SERV_ADMIN_API_KEY",
        "present": True,
        "value": "[REDACTED]",
        "status": "present",
        "expires_at": None,
        "last_checked": None,
    }
    assert inventory["extra"]["KNEO_TEST_MCP_TOKEN"]["present"] is True
    assert inventory["extra"]["NOT_SET_ANYWHERE"] == {
        "name": "extra:NOT_SET_ANYWHERE",
        "env_var": "NOT_SET_ANYWHERE",
        "present": False,
        "value": None,
        "status": "missing",
        "expires_at": None,
        "last_checked": None,
    }
    assert inventory["providers"]["openai"]["present"] is True
