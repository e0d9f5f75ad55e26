"""The 1.2 API the current clients use: session ids, run filters, unknown query parameters,
graph shapes, policy preview, the skill catalog, stored-policy answers, human-task listing, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import specs
from tests.support.services import Api, TopologyOptions

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ECHO = {"version": "v1", "agent": specs.agent("echo")}
KINDS = (
    "sequential_pipeline",
    "concurrent_fanout",
    "graph_triage",
    "group_chat_debate",
    "handoff_escalation",
    "nested_workflows",
    "human_sequential_approval",
)


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())


@pytest.fixture(scope="module")
def topology_options(tmp_path_factory: pytest.TempPathFactory) -> TopologyOptions:
    root = tmp_path_factory.mktemp("spec-root")
    (root / "skills" / "tidy").mkdir(parents=True)
    (root / "skills" / "tidy" / "SKILL.md").write_text("---\ndescription: Keep it tidy.\n---\nBe tidy.\n")
    (root / "skills" / "brief.md").write_text("Be brief.\n")
    return TopologyOptions(
        env={"KNEO_SERV_ALLOWED_MODULES": "tests.support,examples", "KNEO_SERV_SPEC_ROOT": str(root)}
    )


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def listed(stack: Api, **params: Any) -> set[str]:
    return {run["id"] for run in ok(stack.call("GET", "/v1/runs", params={"limit": 1000, **params}))["runs"]}


def test_session_id_round_trip_and_filter(stack: Api) -> None:
    first = stack.create_run(ECHO, "hello", target="agent", session_id="session-a")
    second = ok(
        stack.call("POST", "/v1/specs/run", json={"input": "x", "spec": ECHO, "target": "agent", "session_id": "b"})
    )
    assert stack.run(first["run_id"])["session_id"] == "session-a"
    assert listed(stack, session_id="session-a") == {first["run_id"]}
    assert listed(stack, session_id="b") == {second["run_id"]}
    [row] = ok(stack.call("GET", "/v1/runs", params={"session_id": "session-a"}))["runs"]
    assert row["session_id"] == "session-a"
    events = ok(stack.call("GET", "/v1/audit-events", role="admin", params={"run_id": first["run_id"]}))["events"]
    assert [e["metadata"]["session_id"] for e in events if e["event_type"] == "run.created"] == ["session-a"]
    for bad in (5, "s" * 513):
        response = stack.call(
            "POST", "/v1/runs", json={"input": "x", "spec": ECHO, "target": "agent", "session_id": bad}
        )
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "session_id"]


def test_run_filters(stack: Api) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    good = stack.create_run(example("graph_triage"), "quarterly metrics")
    failed = stack.create_run(
        specs.sequential([specs.function_step("boom", "boom")], functions={"boom": "tests.support.functions.boom"}), "x"
    )
    agent = stack.create_run(ECHO, "needle in a haystack", target="agent")
    assert failed["status"] == "failed"
    assert {failed["run_id"]} <= listed(stack, has_error="true")
    assert not {good["run_id"], agent["run_id"]} & listed(stack, has_error="true")
    assert {good["run_id"], agent["run_id"]} <= listed(stack, has_error="false")
    assert agent["run_id"] in listed(stack, workflow_kind="agent") and good["run_id"] not in listed(
        stack, workflow_kind="agent"
    )
    assert listed(stack, workflow_name="ticket-triage") >= {good["run_id"]}
    assert listed(stack, q="ARCHIVED: routine") == {good["run_id"]}
    assert listed(stack, q="100%_") == set()
    created = {good["run_id"], failed["run_id"], agent["run_id"]}
    assert created <= listed(stack, created_after=before.isoformat())
    assert not created & listed(stack, created_before=before.isoformat())
    assert not created & listed(
        stack, created_after=(datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    bad = stack.call("GET", "/v1/runs", params={"created_after": "yesterday"})
    assert bad.status_code == 422 and bad.json()["detail"]["error"] == "invalid_timestamp"
    assert stack.call("GET", "/v1/runs", params={"has_error": "maybe"}).status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/runs"),
        ("GET", "/runs/{run}"),
        ("GET", "/runs/{run}/trace"),
        ("GET", "/runs/{run}/checkpoints"),
        ("GET", "/runs/{run}/checkpoints/diff"),
        ("GET", "/runs/{run}/graph"),
        ("GET", "/human-tasks"),
        ("GET", "/audit-events"),
        ("GET", "/skills"),
        ("GET", "/policies/environment"),
        ("GET", "/security/credentials"),
        ("POST", "/specs/validate"),
        ("POST", "/runs/nope/cancel"),
    ],
)
def test_unknown_query_parameters_answer_422_everywhere(stack: Api, method: str, path: str) -> None:
    run_id = stack.create_run(ECHO, "q", target="agent")["run_id"]
    url = "/v1" + path.replace("{run}", run_id)
    before = stack.sql("SELECT count(*) FROM audit_events")
    response = stack.call(method, url, role="admin", params={"bogus": 1, "also": 2}, json={"spec": ECHO})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == {
        "error": "unknown_query_parameters",
        "message": "Unrecognized query parameter(s): also, bogus.",
        "unknown": ["also", "bogus"],
        "parameters": ["also", "bogus"],
    }
    assert stack.sql("SELECT count(*) FROM audit_events") == before


def test_known_parameters_and_probes_still_answer(stack: Api) -> None:
    assert ok(stack.call("GET", "/v1/audit-events", role="admin", params={"sort_by": "event_type", "limit": 2}))
    assert ok(stack.call("GET", "/healthz", role=None, params={"anything": 1}))["ok"] is True
    mixed = stack.call("GET", "/v1/runs", params={"limit": 5, "status": "completed", "colour": "red"})
    assert mixed.status_code == 422 and mixed.json()["detail"]["unknown"] == ["colour"]


def test_health_advertises_the_api_level_and_kneo_version(stack: Api) -> None:
    from kneo import __version__

    body = ok(stack.call("GET", "/healthz", role=None))
    assert body["version"] == body["api_version"] == "1.2.0"
    assert body["kneo_version"] == __version__


@pytest.mark.parametrize("name", KINDS)
def test_graph_routes_in_the_1_2_shape_for_every_kind(stack: Api, name: str) -> None:
    spec = example(name)
    graph = ok(stack.call("POST", "/v1/specs/graph", role="viewer", json={"spec": spec}))
    assert graph["workflow_name"] == spec["workflow"]["name"]
    assert graph["workflow_kind"].replace("-", "_") == spec["workflow"]["type"].replace("-", "_")
    assert {"start", "max_steps"} <= set(graph) and graph["nodes"]
    for node in graph["nodes"]:
        assert {"id", "name", "kind", "on_error", "max_retries", "timeout_seconds", "fallback_node"} <= set(node)
    ids = {n["id"] for n in graph["nodes"]}
    for edge in graph["edges"]:
        assert {edge["source"], edge["target"]} <= ids
        assert isinstance(edge["conditional"], bool) and isinstance(edge["priority"], int) and "label" in edge
    run = stack.create_run(spec, "quarterly metrics")
    view = ok(stack.call("GET", f"/v1/runs/{run['run_id']}/graph", role="viewer"))
    assert view["run_id"] == run["run_id"] and view["status"] == run["status"]
    assert view["visited"] and set(view["visited"]) <= ids
    assert {n["id"] for n in view["nodes"] if n["visited"]} == set(view["visited"])


def test_graph_of_an_agent_spec(stack: Api) -> None:
    graph = ok(stack.call("POST", "/v1/specs/graph", role="viewer", json={"spec": ECHO}))
    assert graph["workflow_kind"] is None and [n["name"] for n in graph["nodes"]] == ["echo"]


def test_graph_edges_are_conditional_where_a_condition_decides(stack: Api) -> None:
    graph = ok(stack.call("POST", "/v1/specs/graph", role="viewer", json={"spec": example("graph_triage")}))
    edges = {(e["source"], e["target"]): e for e in graph["edges"]}
    assert edges[("triage", "polish")]["conditional"] is False
    assert edges[("polish", "page")] | {"priority": 0} == edges[("polish", "page")]
    assert edges[("polish", "page")]["conditional"] is True and edges[("polish", "page")]["label"] == "urgent"


def test_stored_policy_reports_blockers_and_refuses_compile_and_runs(stack: Api) -> None:
    env = "locked"
    ok(stack.call("PUT", f"/v1/policies/environment/{env}", role="admin", json={"require_guardrails": True}))
    body = {"spec": ECHO, "environment": env}
    report = ok(stack.call("POST", "/v1/specs/validate", json=body))
    assert report["valid"] is False and [d["code"] for d in report["diagnostics"]] == ["E_ENV_POLICY_GUARDRAILS"]
    assert ok(stack.call("POST", "/v1/specs/policy-report", json=body))["valid"] is True
    for path, extra in (("/v1/specs/compile", {}), ("/v1/runs", {"input": "x", "target": "agent"})):
        response = stack.call("POST", path, json={**body, **extra})
        assert response.status_code == 403, response.text
        detail = response.json()["detail"]
        assert detail["error"] == "environment_policy_blocked"
        assert [d["code"] for d in detail["diagnostics"]] == ["E_ENV_POLICY_GUARDRAILS"]


def test_policy_preview(stack: Api) -> None:
    env = "preview"
    runs = [stack.create_run(ECHO, f"p{i}", target="agent", environment=env)["run_id"] for i in range(2)]
    fresh = ok(
        stack.call("POST", f"/v1/policies/environment/{env}/preview", role="admin", json={"require_guardrails": True})
    )
    assert fresh["diff"]["require_guardrails"] == {"from": None, "to": True}
    assert fresh["runs_evaluated"] == 2
    assert set(fresh["affected_run_ids"]) == set(fresh["newly_blocking"]) == set(runs)
    assert ok(stack.call("GET", f"/v1/policies/environment/{env}", role="admin"))["policy"] is None, "nothing stored"
    ok(stack.call("PUT", f"/v1/policies/environment/{env}", role="admin", json={"require_guardrails": True}))
    same = ok(
        stack.call("POST", f"/v1/policies/environment/{env}/preview", role="admin", json={"require_guardrails": True})
    )
    assert same == {"environment": env, "diff": {}, "affected_run_ids": [], "newly_blocking": [], "runs_evaluated": 2}
    relaxed = ok(stack.call("POST", f"/v1/policies/environment/{env}/preview", role="admin", json={}))
    assert set(relaxed["affected_run_ids"]) == set(runs) and relaxed["newly_blocking"] == []
    bad = stack.call("POST", f"/v1/policies/environment/{env}/preview", role="admin", json={"spec": ECHO})
    assert bad.status_code == 422 and bad.json()["detail"][0]["type"] == "extra_forbidden"
    assert stack.call("POST", f"/v1/policies/environment/{'e' * 129}/preview", role="admin", json={}).status_code == 422


def test_skill_catalog(stack: Api) -> None:
    body = ok(stack.call("GET", "/v1/skills", role="viewer"))
    assert body["skills"] == [
        {"name": "brief", "description": None, "path": "skills/brief.md"},
        {"name": "tidy", "description": "Keep it tidy.", "path": "skills/tidy"},
    ]
    assert (body["count"], body["total"], body["sort_by"], body["sort_order"]) == (2, 2, "name", "asc")
    page = ok(stack.call("GET", "/v1/skills", role="viewer", params={"sort_order": "desc", "limit": 1}))
    assert [s["name"] for s in page["skills"]] == ["tidy"] and page["total"] == 2
    assert stack.call("GET", "/v1/skills", role="viewer", params={"sort_by": "size"}).status_code == 422


def test_human_tasks_list_open_tasks_by_default(stack: Api) -> None:
    spec = example("human_sequential_approval")
    done, waiting = (stack.create_run(spec, f"draft {i}") for i in range(2))
    task = ok(stack.call("GET", f"/v1/human-tasks/{done['continuation_id']}", role="reviewer"))
    decision = {"request_id": task["request"]["id"], "decision": "approved"}
    ok(stack.call("POST", f"/v1/human-tasks/{done['continuation_id']}/resume", role="reviewer", json=decision))
    default = {t["run_id"] for t in ok(stack.call("GET", "/v1/human-tasks", role="reviewer"))["tasks"]}
    assert waiting["run_id"] in default and done["run_id"] not in default
    every = ok(
        stack.call("GET", "/v1/human-tasks", role="reviewer", params={"status": "all", "run_id": done["run_id"]})
    )
    assert [t["status"] for t in every["tasks"]] == ["resolved"]
    escalated = ok(stack.call("GET", "/v1/human-tasks", role="reviewer", params={"status": "escalated"}))
    assert escalated["tasks"] == []
