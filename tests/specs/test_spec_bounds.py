"""Caps on what a spec may ask for, inputs that used to answer 500, and bounded checkpoint storage.

Against the production topology: gunicorn + Celery worker + beat on PostgreSQL and Redis.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import specs
from tests.support.services import Api

pytestmark = pytest.mark.e2e

TABLES = ("runs", "step_runs", "checkpoints", "trace_events", "audit_events")


def counts(api: Api) -> dict[str, int]:
    return {table: api.sql(f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


def limit_paths(response: Any) -> list[str]:
    """The paths of the E_SPEC_LIMIT diagnostics of a 422 compile or a /specs/validate report."""
    body = response.json()
    diagnostics = body.get("diagnostics") or body.get("detail", {}).get("diagnostics") or []
    return [d["path"] for d in diagnostics if d["code"] == "E_SPEC_LIMIT"]


def group_chat(rounds: Any) -> dict[str, Any]:
    spec = specs.echo_chain(2)
    spec["workflow"] = {
        "type": "group-chat",
        "participants": [{"id": "a0", "kind": "agent", "ref": "a0"}, {"id": "a1", "kind": "agent", "ref": "a1"}],
        "rounds": rounds,
    }
    return spec


def graph_loop(max_steps: int) -> dict[str, Any]:
    spec = specs.echo_chain(1)
    spec["workflow"] = {
        "type": "graph",
        "start": "a0",
        "nodes": {"a0": {"id": "a0", "kind": "agent", "ref": "a0"}},
        "edges": [{"from": "a0", "to": "a0", "condition": {"type": "always"}}],
        "max_steps": max_steps,
    }
    return spec


def nested(depth: int) -> dict[str, Any]:
    """A root workflow nesting ``depth`` workflows in all (itself included)."""
    spec = specs.echo_chain(1)
    last = depth - 2
    workflows = {
        f"w{i}": {"type": "sequential", "steps": [{"id": "s", "kind": "workflow", "ref": f"w{i + 1}"}]}
        for i in range(last)
    }
    workflows[f"w{last}"] = {"type": "sequential", "steps": [{"id": "s", "kind": "agent", "ref": "a0"}]}
    spec["components"]["workflows"] = workflows
    spec["workflow"] = {"type": "sequential", "steps": [{"id": "s", "kind": "workflow", "ref": "w0"}]}
    return spec


def deep_condition(depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": "always"}
    for _ in range(depth):
        condition = {"type": "not", "condition": condition}
    spec = graph_loop(3)
    spec["workflow"]["edges"][0]["condition"] = condition
    return spec


def with_step_timeout(seconds: Any) -> dict[str, Any]:
    spec = specs.echo_chain(1)
    spec["workflow"]["steps"][0]["timeout_seconds"] = seconds
    return spec


OVER_LIMIT = [
    pytest.param(group_chat(10**12), ["workflow.rounds"], id="rounds-1e12"),
    pytest.param(group_chat(1e12), ["workflow.rounds"], id="rounds-float"),
    pytest.param(graph_loop(10**9), ["workflow.max_steps"], id="max-steps"),
    pytest.param(
        {
            **specs.echo_chain(1),
            "agent": {**specs.agent("root"), "strategy": {"type": "react", "max_iterations": 10**9}},
        },
        ["agent.strategy.max_iterations"],
        id="agent-iterations",
    ),
    pytest.param(
        {**group_chat(1), "workflow": {**group_chat(1)["workflow"], "max_iterations": 10**7}},
        ["workflow.max_iterations"],
        id="workflow-iterations",
    ),
    pytest.param(specs.echo_chain(501), ["workflow"], id="steps-per-spec"),
    pytest.param(nested(9), ["workflow"], id="workflow-nesting"),
    pytest.param(deep_condition(40), ["(root)"], id="document-depth"),
    pytest.param(with_step_timeout(99999999999999999999999), ["workflow.steps[0].timeout_seconds"], id="step-timeout"),
]


@pytest.mark.parametrize(("spec", "paths"), OVER_LIMIT)
def test_specs_over_a_cap_are_refused_at_validation_and_write_nothing(
    stack: Api, spec: dict[str, Any], paths: list[str]
) -> None:
    validated = stack.call("POST", "/v1/specs/validate", json={"spec": spec})
    assert validated.status_code == 200, validated.text
    assert validated.json()["valid"] is False
    assert limit_paths(validated)[: len(paths)] == paths
    before = counts(stack)
    created = stack.call("POST", "/v1/runs", json={"input": "x", "spec": spec})
    assert created.status_code == 422, created.text
    assert created.json()["detail"]["error"] == "spec_invalid"
    assert "E_SPEC_LIMIT" in created.json()["detail"]["message"]
    assert counts(stack) == before


def test_specs_at_the_caps_still_run(stack: Api) -> None:
    run = stack.create_run(group_chat(3), "hi")
    assert run["status"] == "completed", run
    validated = stack.call("POST", "/v1/specs/validate", json={"spec": nested(8)})
    assert validated.json()["valid"] is True, validated.text


@pytest.mark.parametrize(
    "body",
    [
        {"input": "\ud800", "spec": specs.echo_chain(1)},
        {"input": "ok", "spec": specs.echo_chain(1), "metadata": {"k\udfff": "v"}},
        {"input": "ok", "spec": {**specs.echo_chain(1), "agent": {**specs.agent("r\ud800")}}},
        {"input": "ok", "spec": specs.echo_chain(1), "timeout_seconds": 99999999999999999999999},
        {"input": "ok", "spec": specs.echo_chain(1), "timeout_seconds": 10**12},
    ],
    ids=["surrogate-input", "surrogate-key", "surrogate-spec", "huge-timeout", "timeout-over-cap"],
)
def test_inputs_that_answered_500_get_422_and_write_nothing(stack: Api, body: dict[str, Any]) -> None:
    before = counts(stack)
    for path in ("/v1/runs", "/v1/specs/run"):
        response = stack.call("POST", path, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"], response.text
    assert counts(stack) == before


def test_graph_loop_checkpoints_do_not_copy_the_accumulated_messages(stack: Api) -> None:
    steps = 40
    run = stack.create_run(graph_loop(steps), "m" * 2_000)
    assert run["error"] == {"message": "Run stopped after reaching max iterations.", "type": "max_iterations"}
    rows = stack.sql(
        "SELECT sequence, octet_length(state::text), message_count FROM checkpoints "
        "WHERE run_id = %s AND type = 'node_completed' ORDER BY sequence",
        run["run_id"],
    )
    assert len(rows) == steps
    sizes = [size for _, size, _ in rows]
    message_bytes = stack.sql("SELECT octet_length(messages::text) FROM runs WHERE id = %s", run["run_id"])[0][0]
    assert message_bytes > steps * 2_000, "each step adds a message of over 2,000 bytes, stored once, on the run"
    # Only visited_nodes and the output text grow (tens of bytes a step), never a copy of the messages.
    growth_per_step = (sizes[-1] - sizes[0]) / (steps - 1)
    assert growth_per_step < 100, f"stored bytes per checkpoint grow with the messages: {sizes}"
    assert sizes[-1] < 2 * sizes[0] and sizes[-1] < message_bytes / 10, sizes
    listed = stack.call(
        "GET", f"/v1/runs/{run['run_id']}/checkpoints", params={"type": "node_completed", "limit": 1000}
    )
    assert listed.status_code == 200, listed.text
    shown = [len(cp["state"]["messages"]) for cp in listed.json()["checkpoints"]]
    assert shown == [count for _, _, count in rows]
    assert shown == sorted(shown) and shown[0] > 0 and shown[-1] > shown[0]
    diff = stack.call(
        "GET", f"/v1/runs/{run['run_id']}/checkpoints/diff", params={"from_sequence": 2, "to_sequence": 3}
    )
    assert diff.status_code == 200, diff.text
    assert any(item["path"].startswith("state.messages[") for item in diff.json()["added"]), diff.json()


def test_a_step_answering_a_lone_surrogate_completes_with_a_replacement_character(stack: Api) -> None:
    spec = specs.sequential(
        [specs.function_step("odd", "odd")], functions={"odd": "tests.support.functions.lone_surrogate"}
    )
    run = stack.create_run(spec, "x")
    assert (run["status"], run["output_text"]) == ("completed", "x\ufffd"), run
