"""Human steps pause and resume in every workflow kind (production topology on PostgreSQL + Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.services import Api, TopologyOptions

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REJECTED = "Rejected by human reviewer: not good enough"


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def topology_options() -> TopologyOptions:
    return TopologyOptions(env={"KNEO_SERV_ALLOWED_MODULES": "tests.support,examples"})


def blocked_run(api: Api, name: str, text: str = "q3") -> tuple[dict[str, Any], dict[str, Any]]:
    run = api.create_run(example(name), text)
    assert run["status"] == "blocked", run
    assert run["output_text"] == "Human intervention required." and run["human_intervention_required"] is True
    task = api.call("GET", f"/v1/human-tasks/{run['continuation_id']}", role="reviewer")
    assert task.status_code == 200, task.text
    return run, task.json()


def resume(api: Api, run: dict[str, Any], task: dict[str, Any], decision: str, **body: Any) -> dict[str, Any]:
    response = api.call(
        "POST",
        f"/v1/human-tasks/{run['continuation_id']}/resume",
        role="reviewer",
        json={"request_id": task["request"]["id"], "decision": decision, **body},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("decision", "body", "output"),
    [
        ("approved", {}, "Published: Draft: q3"),
        ("rejected", {"content": "not good enough"}, f"Published: {REJECTED}"),
        ("edited", {"content": "Draft: better"}, "Published: Draft: better"),
    ],
)
def test_sequential(stack: Api, decision: str, body: dict[str, Any], output: str) -> None:
    run, task = blocked_run(stack, "human_sequential_approval")
    assert task["request"]["requested_by"] == "approve"
    assert task["request"]["context"] == {"input_text": "Draft: q3"}
    assert stack.run(run["run_id"])["visited_steps"] == ["draft"]
    done = resume(stack, run, task, decision, **body)
    assert done["status"] == "completed" and done["output_text"] == output
    assert stack.run(run["run_id"])["visited_steps"] == ["draft", "approve", "publish"]


@pytest.mark.parametrize(
    ("decision", "last", "output"),
    [("approved", "publish", "Published: Draft: q3"), ("rejected", "archive", f"Archived: {REJECTED}")],
)
def test_graph(stack: Api, decision: str, last: str, output: str) -> None:
    run, task = blocked_run(stack, "human_graph_review")
    assert task["task"]["current_node_id"] == "review"
    state = stack.run(run["run_id"])
    assert state["visited_nodes"] == ["draft"] and state["current_node_id"] == "review"
    done = resume(stack, run, task, decision, content="not good enough")
    assert done["status"] == "completed" and done["output_text"] == output
    assert stack.run(run["run_id"])["visited_nodes"] == ["draft", "review", last]


@pytest.mark.parametrize("decision", ["approved", "rejected"])
def test_concurrent_drains_then_blocks(stack: Api, decision: str) -> None:
    run, task = blocked_run(stack, "human_concurrent_signoff")
    assert task["request"]["requested_by"] == "signoff"
    assert stack.run(run["run_id"])["visited_steps"] == ["draft", "headline"], "siblings finished before the block"
    done = resume(stack, run, task, decision, content="not good enough")
    assert done["status"] == "completed" and done["output_text"] == "Q3", "the last participant's output"
    assert stack.run(run["run_id"])["visited_steps"] == ["draft", "signoff", "headline"]


@pytest.mark.parametrize(
    ("decision", "output"),
    [("approved", "Published: Final answer: q3"), ("rejected", f"Published: {REJECTED}")],
)
def test_group_chat(stack: Api, decision: str, output: str) -> None:
    run, task = blocked_run(stack, "human_group_chat")
    assert task["request"]["context"] == {"input_text": "Final answer: q3"}
    done = resume(stack, run, task, decision, content="not good enough")
    assert done["status"] == "completed" and done["output_text"] == output
    assert stack.run(run["run_id"])["visited_steps"] == ["proposer", "moderator", "closer"]


@pytest.mark.parametrize(
    ("decision", "output"),
    [("approved", "Archived: Final answer: q3"), ("rejected", f"Archived: {REJECTED}")],
)
def test_handoff(stack: Api, decision: str, output: str) -> None:
    run, task = blocked_run(stack, "human_handoff")
    assert task["request"]["requested_by"] == "supervisor"
    done = resume(stack, run, task, decision, content="not good enough")
    assert done["status"] == "completed" and done["output_text"] == output
    assert stack.run(run["run_id"])["visited_steps"] == ["agent", "supervisor", "close"]


@pytest.mark.parametrize(
    ("decision", "output"),
    [("approved", "Published: Draft: Outline: q3"), ("rejected", f"Published: {REJECTED}")],
)
def test_nested(stack: Api, decision: str, output: str) -> None:
    run, task = blocked_run(stack, "human_nested_gate")
    assert task["request"]["context"] == {"input_text": "Draft: Outline: q3"}
    assert stack.run(run["run_id"])["visited_steps"] == ["prepare"]
    done = resume(stack, run, task, decision, content="not good enough")
    assert done["status"] == "completed" and done["output_text"] == output
    assert stack.run(run["run_id"])["visited_steps"] == ["prepare", "approve", "release"]


def test_second_resume_is_refused_and_checkpoints_record_the_decision(stack: Api) -> None:
    run, task = blocked_run(stack, "human_graph_review")
    resume(stack, run, task, "rejected", content="no")
    again = stack.call(
        "POST",
        f"/v1/human-tasks/{run['continuation_id']}/resume",
        role="reviewer",
        json={"request_id": task["request"]["id"], "decision": "approved"},
    )
    assert again.status_code == 409
    response = stack.call("GET", f"/v1/runs/{run['run_id']}/checkpoints", params={"type": "node_completed"})
    review = [c for c in response.json()["checkpoints"] if c["node_id"] == "review"]
    assert review[0]["metadata"]["human_decision"] == "rejected"
