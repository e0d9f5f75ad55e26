"""The embedded server stays responsive under a hostile spec: step time limits and linear-time regexes."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from tests.embedded.server import EmbeddedServer
from tests.support import specs
from tests.support.services import Api

pytestmark = pytest.mark.e2e

CATASTROPHIC = {"id": "nested", "type": "regex", "config": {"patterns": ["(a+)+$"]}}
HEALTH_BUDGET_SECONDS = 2.0


def hung(function: str, timeout_seconds: int) -> dict[str, Any]:
    return specs.sequential(
        [specs.function_step("hang", "hang", timeout_seconds=timeout_seconds)],
        functions={"hang": f"tests.support.functions.{function}"},
    )


def health_latencies(server: EmbeddedServer, stop: threading.Event, out: list[float]) -> None:
    """Probe /healthz every 100 ms until ``stop`` is set; records each answer's latency."""
    while not stop.is_set():
        started = time.monotonic()
        response = requests.get(server.base_url + "/healthz", timeout=30)
        assert response.status_code == 200
        out.append(time.monotonic() - started)
        time.sleep(0.1)


def probing(server: EmbeddedServer) -> tuple[threading.Event, list[float], threading.Thread]:
    stop, latencies = threading.Event(), []
    thread = threading.Thread(target=health_latencies, args=(server, stop, latencies), daemon=True)
    thread.start()
    return stop, latencies, thread


@pytest.mark.parametrize("function", ["hang", "spin"])
def test_hung_step_fails_with_step_timeout_while_healthz_answers(
    api: Api, shared_server: EmbeddedServer, function: str
) -> None:
    stop, latencies, thread = probing(shared_server)
    started = time.monotonic()
    try:
        created = api.create_run(hung(function, 2), "stuck", async_mode=True)
        final = api.wait_status(created["run_id"], {"completed", "failed", "cancelled"}, timeout=60)
    finally:
        stop.set()
        thread.join(30)
    assert final["status"] == "failed"
    assert final["error"]["type"] == "StepTimeout", final["error"]
    assert time.monotonic() - started < 30, "the time limit ended the step, not the function"
    assert len(latencies) >= 5 and max(latencies) < HEALTH_BUDGET_SECONDS, latencies


def test_catastrophic_regex_guardrail_runs_in_linear_time(api: Api, shared_server: EmbeddedServer) -> None:
    spec = specs.echo_chain(1)
    spec["agent"]["guardrails"] = {"input": [CATASTROPHIC]}
    stop, latencies, thread = probing(shared_server)
    try:
        started = time.monotonic()
        run = api.create_run(spec, "a" * 19_000 + "!", target="agent")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join(30)
    assert run["status"] == "completed", run
    assert elapsed < 10
    assert latencies and max(latencies) < HEALTH_BUDGET_SECONDS, latencies
    blocked = api.create_run(spec, "a" * 19_000, target="agent")
    assert blocked["status"] == "failed" and "nested" in blocked["error"]["message"], blocked


def test_patterns_the_linear_engine_cannot_run_are_refused_when_compiled(api: Api) -> None:
    spec = specs.echo_chain(1)
    spec["agent"]["guardrails"] = {"input": [{"id": "backref", "type": "regex", "config": {"patterns": [r"(a)\1"]}}]}
    for path in ("/v1/specs/compile", "/v1/runs"):
        refused = api.call("POST", path, json={"spec": spec, "input": "a"} if path == "/v1/runs" else {"spec": spec})
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"]
        assert detail["error"] == "spec_invalid" and "E_GUARDRAIL_FIELDS" in detail["message"], detail
        assert "not supported" in detail["message"]
