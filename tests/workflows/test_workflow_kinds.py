"""Every workflow kind end to end: gunicorn + Celery workers + beat on PostgreSQL and Redis."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import specs
from tests.support.services import Api, TopologyOptions

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def topology_options() -> TopologyOptions:
    return TopologyOptions(
        env={
            "KNEO_SERV_ALLOWED_MODULES": "tests.support,examples",
            "KNEO_TEST_LONG_NAP": "2.5",
            "KNEO_TEST_SHORT_NAP": "1.0",
        }
    )


def sql(api: Api, statement: str, *args: object) -> list[tuple[Any, ...]]:
    return api.sql(statement, *args)


def trace(api: Api, run_id: str, event_type: str) -> list[dict[str, Any]]:
    response = api.call("GET", f"/v1/runs/{run_id}/trace", params={"event_type": event_type, "limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()["events"]  # type: ignore[no-any-return]


def checkpoints(api: Api, run_id: str, type_: str) -> list[dict[str, Any]]:
    response = api.call("GET", f"/v1/runs/{run_id}/checkpoints", params={"type": type_, "limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()["checkpoints"]  # type: ignore[no-any-return]


def test_sequential(stack: Api) -> None:
    run = stack.create_run(example("sequential_pipeline"), "q3 numbers")
    assert run["status"] == "completed"
    assert run["output_text"] == "Published: Final answer: Outline: q3 numbers"
    assert stack.run(run["run_id"])["visited_steps"] == ["outline", "write", "publish"]
    (completed,) = trace(stack, run["run_id"], "workflow_completed")
    assert completed["metadata"] == {"visited_steps": ["outline", "write", "publish"]}


def test_concurrent_fanout(stack: Api) -> None:
    run = stack.create_run(example("concurrent_fanout"), "ship it")
    assert run["status"] == "completed" and run["output_text"] == "SHIP IT"
    state = stack.run(run["run_id"])
    assert state["visited_steps"] == ["legal", "length", "headline"]
    (started,) = trace(stack, run["run_id"], "workflow_started")
    assert started["metadata"] == {"workflow_type": "concurrent", "participant_count": 3}


def test_concurrent_participants_run_in_parallel_on_separate_workers(stack: Api) -> None:
    spec = {
        "version": "v1",
        "agent": specs.agent("root"),
        "workflow": {
            "type": "concurrent",
            "participants": [
                {"id": "slow", "kind": "function", "ref": "long_nap"},
                {"id": "quick", "kind": "function", "ref": "short_nap"},
            ],
        },
        "components": {
            "functions": {
                "long_nap": {"implementation": "tests.support.parallel.long_nap"},
                "short_nap": {"implementation": "tests.support.parallel.short_nap"},
            }
        },
    }
    began = time.monotonic()
    run = stack.create_run(spec, "race")
    elapsed = time.monotonic() - began
    assert run["status"] == "completed"
    assert run["output_text"] == "short: race", "the last participant in declaration order"
    assert stack.run(run["run_id"])["visited_steps"] == ["slow", "quick"], "declaration order, not finish order"
    rows = sql(
        stack,
        "SELECT step_id, worker_id, started_at, finished_at FROM step_runs WHERE run_id=%s ORDER BY step_id",
        run["run_id"],
    )
    (quick, quick_worker, quick_start, quick_end), (slow, slow_worker, slow_start, slow_end) = rows
    assert (quick, slow) == ("quick", "slow")
    assert quick_start < slow_end and slow_start < quick_end, "the two step rows overlap in time"
    assert quick_worker != slow_worker, "each ran in its own worker process"
    assert quick_end < slow_end
    assert elapsed < 2.5 + 1.0 + 2.0, "parallel, not back to back"


def test_graph_conditions_and_cycle(stack: Api) -> None:
    run = stack.create_run(example("graph_triage"), "checkout is down")
    assert run["status"] == "completed"
    assert run["output_text"] == "Final answer: URGENT: checkout is down***"
    state = stack.run(run["run_id"])
    assert state["visited_nodes"] == ["triage", "polish", "polish", "polish", "page"]
    assert state["visited_steps"] == []
    (completed,) = trace(stack, run["run_id"], "workflow_completed")
    assert completed["metadata"]["termination"] == "no_matching_edge"
    polish = [c for c in checkpoints(stack, run["run_id"], "node_completed") if c["node_id"] == "polish"]
    assert [c["iteration"] for c in polish] == [1, 2, 3]


def test_graph_cycle_stops_at_max_steps(stack: Api) -> None:
    run = stack.create_run(example("graph_loop_capped"), "loop")
    assert run["status"] == "failed"
    assert run["error"] == {"message": "Run stopped after reaching max iterations.", "type": "max_iterations"}
    state = stack.run(run["run_id"])
    assert state["visited_nodes"] == ["refine", "check", "refine", "check"]
    (completed,) = trace(stack, run["run_id"], "workflow_completed")
    assert completed["metadata"] == {"visited_nodes": state["visited_nodes"], "termination": "max_steps"}
    assert trace(stack, run["run_id"], "workflow_failed")[0]["metadata"]["termination"] == "max_steps"


def test_group_chat(stack: Api) -> None:
    run = stack.create_run(example("group_chat_debate"), "tabs or spaces")
    assert run["status"] == "completed"
    assert run["output_text"] == "Final answer: " * 4 + "tabs or spaces"
    assert stack.run(run["run_id"])["visited_steps"] == ["optimist", "critic", "optimist", "critic"]
    iterations = [(c["step_id"], c["iteration"]) for c in checkpoints(stack, run["run_id"], "step_completed")]
    assert iterations == [("optimist", 1), ("critic", 1), ("optimist", 2), ("critic", 2)]


def test_handoff(stack: Api) -> None:
    run = stack.create_run(example("handoff_escalation"), "printer jam")
    assert run["status"] == "completed"
    assert run["output_text"] == "Final answer: FINAL ANSWER: PRINTER JAM"
    assert stack.run(run["run_id"])["visited_steps"] == ["frontline", "specialist", "frontline"]


def test_nested_workflows_and_as_agent(stack: Api) -> None:
    run = stack.create_run(example("nested_workflows"), "q3")
    assert run["status"] == "completed"
    assert run["output_text"] == "Published: Final answer: Final answer: Outline: q3"
    assert stack.run(run["run_id"])["visited_steps"] == ["research", "review", "publish"]
    nested = [e for e in trace(stack, run["run_id"], "workflow_started") if e["metadata"].get("nested")]
    assert [e["workflow_name"] for e in nested] == ["research-flow", "review-flow"]


def test_on_error_continue_fallback_retry(stack: Api) -> None:
    run = stack.create_run(example("resilient_pipeline"), "report")
    assert run["status"] == "completed"
    assert run["output_text"] == "Fallback summary of: Fallback summary of: report"
    assert stack.run(run["run_id"])["visited_steps"] == ["enrich", "summarise", "flaky_call", "default_summary"]
    query = "SELECT step_id, max(attempt) FROM step_runs WHERE run_id=%s GROUP BY step_id"
    attempts = dict(sql(stack, query, run["run_id"]))
    assert attempts == {"enrich": 1, "summarise": 1, "flaky_call": 3, "default_summary": 1}
    failed = {c["step_id"] for c in checkpoints(stack, run["run_id"], "step_failed")}
    assert failed == {"enrich", "summarise", "flaky_call"}


def test_failing_step_without_policy_fails_the_concurrent_join(stack: Api) -> None:
    spec = specs.sequential([], name="unused")
    spec["workflow"] = {
        "type": "concurrent",
        "participants": [
            {"id": "ok", "kind": "function", "ref": "short_nap"},
            {"id": "bad", "kind": "function", "ref": "boom"},
        ],
    }
    spec["components"]["functions"] = {
        "short_nap": {"implementation": "tests.support.parallel.short_nap"},
        "boom": {"implementation": "tests.support.functions.boom"},
    }
    run = stack.create_run(spec, "x")
    assert run["status"] == "failed"
    assert run["error"] == {"message": "boom on x", "type": "ValueError"}
    ok_row = sql(stack, "SELECT status FROM step_runs WHERE run_id=%s AND step_id='ok'", run["run_id"])
    assert ok_row == [("completed",)], "the sibling settled before the workflow failed"


def test_graph_routes(stack: Api) -> None:
    response = stack.call("POST", "/v1/specs/graph", role="viewer", json={"spec": example("graph_triage")})
    assert response.status_code == 200, response.text
    graph = response.json()
    assert [n["id"] for n in graph["nodes"]] == ["triage", "polish", "page", "queue"]
    assert graph["nodes"][0]["start"] is True
    assert ("polish", "polish") in [(e["from"], e["to"]) for e in graph["edges"]]
    run = stack.create_run(example("graph_triage"), "all good")
    response = stack.call("GET", f"/v1/runs/{run['run_id']}/graph", role="viewer")
    assert response.status_code == 200, response.text
    view = response.json()
    nodes = {n["id"]: n for n in view["nodes"]}
    assert nodes["polish"]["visits"] == 3 and nodes["queue"]["state"] == "completed"
    assert nodes["page"]["state"] == "pending"
    assert view["termination"] == "no_matching_edge" and view["status"] == "completed"
    assert stack.call("GET", "/v1/runs/nope/graph", role="viewer").status_code == 404
    bad = stack.call("POST", "/v1/specs/graph", role="viewer", json={"spec": {"version": "v1"}})
    assert 400 <= bad.status_code < 500
    assert stack.call("POST", "/v1/specs/graph", role=None, json={"spec": example("graph_triage")}).status_code == 401
