"""Every field of the 0.4 and 1.2 payloads, with its value, for every workflow kind.

Runs on the production topology (gunicorn + Celery worker + beat on PostgreSQL and Redis).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import specs
from tests.support.services import Api, TopologyOptions

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EVENT_KEYS = {
    "type",
    "run_id",
    "event_id",
    "timestamp",
    "parent_event_id",
    "span_id",
    "parent_span_id",
    "agent_name",
    "workflow_name",
    "step_id",
    "runtime_mode",
    "model_provider",
    "model_name",
    "tool_name",
    "guardrail_id",
    "memory_policy",
    "input_preview",
    "output_preview",
    "metadata",
    "error",
}
CONTEXT_KEYS = {
    "last_event_type",
    "current_step_id",
    "current_node_id",
    "visited_steps",
    "visited_nodes",
    "last_input_text",
    "last_output_text",
    "current_iteration",
}
BLOCKED_KEYS = {"human_intervention_required", "continuation_id", "request", "pending_step_id"}
LIST_KEYS = {"count", "total", "window", "limit", "offset", "sort_by", "sort_order"}


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def topology_options() -> TopologyOptions:
    return TopologyOptions(env={"KNEO_SERV_ALLOWED_MODULES": "tests.support,examples"})


def get(stack: Api, path: str, **params: Any) -> dict[str, Any]:
    response = stack.call("GET", path, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def assert_result(run: dict[str, Any], created: dict[str, Any]) -> dict[str, Any]:
    """The run-result metadata common to every settled run; returns the stored run's metadata."""
    result = created["metadata"]
    assert result["sdk"] == "kneo"
    assert isinstance(result["duration_ms"], float) and result["duration_ms"] >= 0
    assert result["trace"]["run_id"] == run["run_id"]
    events = result["trace"]["events"]
    assert len(events) == run["trace_event_count"] > 0
    assert all(set(e) == EVENT_KEYS and e["run_id"] == run["run_id"] for e in events)
    stored = run["metadata"]
    for key, value in result.items():
        assert stored[key] == value, key
    assert stored["caller_metadata"] == {}
    assert stored["skills_overlay"] is None
    assert stored["frozen_spec"] == {"base": stored["spec"], "overlays": []}
    assert run["usage"] is None
    return stored


def assert_workflow(
    stack: Api, spec: dict[str, Any], text: str, visited: list[str], steps: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    created = stack.create_run(spec, text)
    assert created["status"] == "completed", created
    run = stack.run(created["run_id"])
    stored = assert_result(run, created)
    workflow = spec["workflow"]
    kind = workflow["type"].replace("_", "-")  # the compiled name of the kind
    key = "visited_nodes" if kind == "graph" else "visited_steps"
    assert stored["workflow"]["name"] == workflow["name"]
    assert stored["workflow"]["type"] == kind
    assert stored["workflow"][key] == visited
    assert stored["workflow_type"] == kind
    assert stored["workflow_steps"] == steps
    assert stored["workflow_description"] == (workflow.get("description") or "")
    assert stored["variables"] == {}
    assert stored["iterations"] == sum(stored["step_iteration_counts"].values()) >= len(set(visited))
    assert set(stored["execution_context"]) == CONTEXT_KEYS
    assert "runtime_name" not in stored and "error" not in stored
    assert run["current_step_index"] is None
    return run, stored


def test_sequential_run_metadata_and_progress(stack: Api) -> None:
    spec = example("sequential_pipeline")
    run, stored = assert_workflow(
        stack, spec, "q3 numbers", ["outline", "write", "publish"], ["outline", "write", "publish"]
    )
    assert stored["iterations"] == 3
    assert stored["step_iteration_counts"] == {"outline|": 1, "write|": 1, "publish|": 1}
    assert stored["execution_context"] == {
        "last_event_type": "step_completed",
        "current_step_id": "publish",
        "current_node_id": None,
        "visited_steps": ["outline", "write", "publish"],
        "visited_nodes": [],
        "last_input_text": "Final answer: Outline: q3 numbers",
        "last_output_text": run["output_text"],
        "current_iteration": 1,
    }
    (item,) = [r for r in get(stack, "/v1/runs", limit=1000)["runs"] if r["id"] == run["run_id"]]
    assert item["metadata"]["trace"] == stored["trace"]
    assert item["trace_events"] == stored["trace"]["events"]
    assert item["trace_event_count"] == run["trace_event_count"] and item["trace_dropped"] == 0
    assert all(m["metadata"]["tool_calls"] == [] for m in item["messages"])
    cancelled = stack.call("POST", f"/v1/runs/{run['run_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["metadata"] == stored


def test_concurrent_run_metadata(stack: Api) -> None:
    spec = example("concurrent_fanout")
    participants = [p["id"] for p in spec["workflow"]["participants"]]
    _run, stored = assert_workflow(stack, spec, "fan out", participants, participants)
    assert stored["iterations"] == len(participants)


def test_graph_run_metadata(stack: Api) -> None:
    spec = example("graph_triage")
    visited = ["triage", "polish", "polish", "polish", "queue"]
    run, stored = assert_workflow(stack, spec, "routine printer jam", visited, list(spec["workflow"]["nodes"]))
    assert stored["workflow"]["termination"] == "no_matching_edge"
    assert stored["step_iteration_counts"] == {"|triage": 1, "|polish": 3, "|queue": 1}
    context = stored["execution_context"]
    assert context["last_event_type"] == "node_completed"
    assert context["current_node_id"] == "queue" and context["current_iteration"] == 1
    assert context["visited_nodes"] == run["visited_nodes"]


def test_group_chat_run_metadata(stack: Api) -> None:
    spec = example("group_chat_debate")
    participants = [p["id"] for p in spec["workflow"]["participants"]]
    rounds = int(spec["workflow"]["rounds"])
    _run, stored = assert_workflow(stack, spec, "debate it", participants * rounds, participants)
    assert stored["iterations"] == len(participants) * rounds
    assert "stopped_by_max_iterations" not in stored


def test_handoff_run_metadata_and_max_iterations(stack: Api) -> None:
    spec = example("handoff_escalation")
    _run, stored = assert_workflow(
        stack, spec, "printer on fire", ["frontline", "specialist", "frontline"], ["frontline", "specialist"]
    )
    assert stored["stopped_by_max_iterations"] is False
    capped = {
        **spec,
        "workflow": {**spec["workflow"], "selector": {"type": "round_robin"}, "max_iterations": 3},
    }
    _run, stored = assert_workflow(
        stack, capped, "keep going", ["frontline", "specialist", "frontline"], ["frontline", "specialist"]
    )
    assert stored["stopped_by_max_iterations"] is True


def test_agent_run_metadata(stack: Api) -> None:
    spec = {"version": "v1", "agent": {"name": "echo"}}
    created = stack.create_run(spec, "hi", target="agent")
    assert created["status"] == "completed"
    run = stack.run(created["run_id"])
    stored = assert_result(run, created)
    assert created["metadata"]["runtime_mode"] == "bridge"
    assert created["metadata"]["runtime_name"] == "simple@dummy"
    assert created["metadata"]["agent_name"] == "echo"
    assert created["metadata"]["iterations"] == 1
    assert [e["type"] for e in stored["trace"]["events"]] == ["run_started", "run_completed"]
    assert "workflow" not in stored
    assert "plan" not in stored
    planner = {"version": "v1", "agent": {"name": "planner", "strategy": {"type": "plan-act"}}}
    planned = stack.create_run(planner, "quarterly metrics", target="agent")["metadata"]
    assert planned["plan"] == "Final answer: quarterly metrics"
    assert planned["runtime_name"] == "plan-act@dummy" and planned["iterations"] == 2


def test_failed_run_reports_its_error(stack: Api) -> None:
    functions = {"boom": "tests.support.functions.boom"}
    spec = specs.sequential([specs.function_step("explode", "boom")], functions=functions)
    created = stack.create_run(spec, "fuse")
    assert created["status"] == "failed"
    run = stack.run(created["run_id"])
    stored = assert_result(run, created)
    assert stored["error"] == {"type": run["error"]["type"], "message": run["error"]["message"]}
    assert "boom on fuse" in stored["error"]["message"]


def test_blocked_run_metadata_task_context_and_resume(stack: Api) -> None:
    created = stack.create_run(specs.human_flow(), "draft for mail alice@example.com")
    assert created["status"] == "blocked"
    run = stack.run(created["run_id"])
    stored = assert_result(run, created)
    assert stored["human_intervention_required"] is True
    assert stored["continuation_id"] == run["continuation_id"] == created["continuation_id"]
    assert stored["request"] == run["pending_human_request"]
    assert stored["pending_step_id"] == "approve"
    assert stored["workflow"] == {
        "name": "approval-flow",
        "type": "sequential",
        "visited_steps": ["draft"],
        "pending_step_id": "approve",
    }
    assert stored["trace"]["events"][-1]["type"] == "human_intervention_requested"

    (task,) = get(stack, "/v1/human-tasks", run_id=run["run_id"])["tasks"]
    assert task["visited_steps"] == ["draft"] and task["visited_nodes"] == [] and task["variables"] == {}
    assert [m["role"] for m in task["messages"]] == ["user", "assistant"]
    assert all(m["metadata"]["tool_calls"] == [] for m in task["messages"])
    assert [e["type"] for e in task["trace_events"]] == [e["type"] for e in stored["trace"]["events"]]
    item = get(stack, f"/v1/human-tasks/{task['id']}")
    assert item["messages"] == task["messages"]
    everything = str([run, task, item])
    assert "alice@example.com" not in everything and "[REDACTED_EMAIL]" in everything

    resumed = stack.call(
        "POST",
        f"/v1/human-tasks/{task['id']}/resume",
        role="reviewer",
        json={"request_id": stored["request"]["id"], "decision": "approved"},
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "completed"
    done = stack.run(run["run_id"])["metadata"]
    assert not BLOCKED_KEYS & set(done)
    assert done["workflow"]["visited_steps"] == ["draft", "approve", "publish"]
    types = [e["type"] for e in done["trace"]["events"]]
    assert "human_intervention_requested" in types and types[-1] == "workflow_completed"


def test_checkpoints_carry_execution_context_spec_and_events(stack: Api) -> None:
    spec = specs.echo_chain(3)
    run_id = stack.create_run(spec, "cp check")["run_id"]
    page = get(stack, f"/v1/runs/{run_id}/checkpoints")
    assert set(page) >= LIST_KEYS and page["window"] == 10000
    cps = page["checkpoints"]
    assert [c["type"] for c in cps] == ["run_started", *["step_completed"] * 3, "run_completed"]
    assert cps[0]["trace_events"][0]["type"] == "workflow_started"
    assert cps[0]["trace_events"][0]["metadata"] == {"start_index": 0, "step_count": 3}
    for index, cp in enumerate(cps[1:4]):
        metadata = cp["state"]["metadata"]
        assert metadata["spec"] == spec and metadata["frozen_spec"] == {"base": spec, "overlays": []}
        assert cp["state"]["trace_events"] == [] and cp["state"]["trace_dropped"] == 0
        context = metadata["execution_context"]
        assert context["current_step_id"] == f"a{index}" and context["last_event_type"] == "step_completed"
        assert context["visited_steps"] == [f"a{i}" for i in range(index + 1)]
        assert context["last_output_text"] == cp["metadata"]["output_text"]
        assert metadata["step_iteration_counts"] == {f"a{i}|": 1 for i in range(index + 1)}
    assert "trace" not in cps[-1]["state"]["metadata"] and cps[-1]["state"]["metadata"]["sdk"] == "kneo"

    diff = get(stack, f"/v1/runs/{run_id}/checkpoints/diff")
    added = {entry["path"]: entry["value"] for entry in diff["added"]}
    assert added["state.metadata.workflow_type"] == "sequential"
    assert added["state.metadata.sdk"] == "kneo"
    changed = {entry["path"]: (entry["before"], entry["after"]) for entry in diff["changed"]}
    assert changed["state.status"] == ("running", "completed")


def test_trace_and_audit_list_envelopes(stack: Api) -> None:
    run_id = stack.create_run(specs.echo_chain(2), "lists")["run_id"]
    trace = get(stack, f"/v1/runs/{run_id}/trace", limit=2)
    assert trace["count"] == 2 and trace["total"] == stack.run(run_id)["trace_event_count"]
    assert trace["window"] == 10000 and trace["dropped"] == 0 and trace["complete"] is True
    assert trace["sort_by"] == "timestamp" and trace["sort_order"] == "asc"
    audit = get(stack, "/v1/audit-events", run_id=run_id, limit=1)
    assert set(audit) >= LIST_KEYS
    assert audit["count"] == 1 and audit["total"] == 2 and audit["window"] == 10000
    assert audit["sort_by"] == "created_at" and audit["sort_order"] == "desc"
    assert audit["events"][0]["event_type"] == "run.completed"
    second = get(stack, "/v1/audit-events", run_id=run_id, limit=1, offset=1)
    assert second["offset"] == 1 and [e["event_type"] for e in second["events"]] == ["run.created"]
    tasks = get(stack, "/v1/human-tasks", run_id=run_id)
    assert set(tasks) >= LIST_KEYS and tasks["total"] == 0


def test_async_create_answers_202_and_settles(stack: Api) -> None:
    response = stack.call("POST", "/v1/runs", json={"input": "later", "spec": specs.echo_chain(2), "async_mode": True})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "running"
    run = stack.wait_status(response.json()["run_id"], {"completed"})
    assert run["metadata"]["sdk"] == "kneo" and run["metadata"]["iterations"] == 2
    assert run["current_step_index"] is None


def test_cancelling_a_blocked_run_settles_its_metadata_again(stack: Api) -> None:
    created = stack.create_run(specs.human_flow(), "cancel while waiting")
    assert created["status"] == "blocked"
    cancelled = stack.call("POST", f"/v1/runs/{created['run_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    metadata = cancelled.json()["metadata"]
    assert not BLOCKED_KEYS & set(metadata)
    assert metadata["error"] == {"type": "cancelled", "message": "Run cancellation requested."}
    assert "pending_step_id" not in metadata["workflow"]
    assert metadata["trace"]["events"][-1]["type"] == "human_intervention_requested"
    assert stack.run(created["run_id"])["metadata"] == metadata
