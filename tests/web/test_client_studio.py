"""kneo-studio 0.9.0, the published studio BFF, driven against the production topology: its spec
checks, test runs and graph canvas for every workflow kind of the example specs, and the routes
that reach the platform. Studio runs no host code, so each example's function steps become bridge
agents of the same name."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support.clients import Bff, client_env, documented_routes, start_bff
from tests.support.services import KEYS, Api

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROJECT = "/api/projects/default"
KINDS = {
    "sequential_pipeline": "sequential",
    "concurrent_fanout": "concurrent",
    "graph_triage": "graph",
    "group_chat_debate": "group-chat",
    "handoff_escalation": "handoff",
    "nested_workflows": "sequential",
}
# Studio itself draws a spec's picture only for graph and sequential workflows (the same answer
# against kneo-serv 1.2.0); a test run's canvas comes from the platform and covers every kind.
PICTURED = {"sequential", "graph"}
BRIDGE = {"preferred_mode": "bridge", "allowed_modes": ["bridge"]}
STUDIO_APP = "kneo_studio.app:app"
# Every documented route with the simplest call (an empty body, unknown ids): the status each
# answers against kneo-serv 1.2.0, in this order (the artifact is deleted before it is read).
MINIMAL_CALLS = [
    ("GET", "/api/readyz", 200),
    ("GET", "/api/me", 200),
    ("GET", "/api/projects", 200),
    ("POST", "/api/projects", 422),
    ("GET", "/api/projects/{project_id}", 200),
    ("GET", "/api/projects/{project_id}/environments", 200),
    ("POST", "/api/session", 422),
    ("DELETE", "/api/session", 404),
    ("GET", "/api/projects/{project_id}/members", 200),
    ("PUT", "/api/projects/{project_id}/members/{member_id}", 422),
    ("DELETE", "/api/projects/{project_id}/members/{member_id}", 404),
    ("POST", "/api/projects/{project_id}/invitations", 422),
    ("GET", "/api/projects/{project_id}/invitations", 200),
    ("DELETE", "/api/projects/{project_id}/invitations/{invitation_id}", 404),
    ("GET", "/api/projects/{project_id}/exposure/preflight", 200),
    ("POST", "/api/projects/{project_id}/exposure/confirm", 422),
    ("GET", "/api/projects/{project_id}/quota-transfer", 200),
    ("POST", "/api/projects/{project_id}/quota-transfer", 422),
    ("POST", "/api/projects/{project_id}/quota-transfer/{transfer_id}/accept", 409),
    ("POST", "/api/projects/{project_id}/quota-transfer/{transfer_id}/decline", 409),
    ("POST", "/api/projects/{project_id}/specs/validate", 422),
    ("POST", "/api/projects/{project_id}/specs/compile", 422),
    ("POST", "/api/projects/{project_id}/specs/policy-report", 422),
    ("POST", "/api/projects/{project_id}/specs/preview", 422),
    ("POST", "/api/projects/{project_id}/specs/graph", 422),
    ("POST", "/api/projects/{project_id}/specs/explain", 501),
    ("POST", "/api/projects/{project_id}/test-runs", 422),
    ("GET", "/api/projects/{project_id}/test-runs/{run_id}", 404),
    ("POST", "/api/projects/{project_id}/test-runs/{run_id}/cancel", 404),
    ("GET", "/api/projects/{project_id}/test-runs/{run_id}/graph", 404),
    ("GET", "/api/projects/{project_id}/test-runs/{run_id}/trace", 404),
    ("GET", "/api/projects/{project_id}/test-runs/{run_id}/checkpoints", 404),
    ("GET", "/api/projects/{project_id}/test-runs/{run_id}/checkpoints/diff", 404),
    ("GET", "/api/projects/{project_id}/environments/{environment}/policy", 501),
    ("GET", "/api/projects/{project_id}/environments/{environment}/credential-refs", 501),
    ("GET", "/api/import/sources", 200),
    ("POST", "/api/projects/{project_id}/import/{source}", 422),
    ("POST", "/api/projects/{project_id}/artifacts", 422),
    ("GET", "/api/projects/{project_id}/artifacts", 200),
    ("POST", "/api/projects/{project_id}/artifacts/{artifact_id}/acknowledgements", 422),
    ("DELETE", "/api/projects/{project_id}/artifacts/{artifact_id}", 204),
    ("GET", "/api/projects/{project_id}/artifacts/{artifact_id}", 410),
    ("GET", "/api/projects/{project_id}/artifacts/{artifact_id}/freshness", 200),
    ("GET", "/api/projects/{project_id}/artifacts/{artifact_id}/preflight/policy", 410),
    ("GET", "/api/projects/{project_id}/artifacts/{artifact_id}/preflight/credential-refs", 410),
    ("GET", "/api/projects/{project_id}/artifacts/{artifact_id}/export", 410),
    ("GET", "/api/projects/{project_id}/analyses/{analysis_id}", 404),
    ("POST", "/api/projects/{project_id}/analyses/{analysis_id}/resolutions", 422),
    ("GET", "/api/projects/{project_id}/analyses", 422),
    ("GET", "/api/projects/{project_id}/limits", 200),
    ("GET", "/api/projects/{project_id}/drafts", 200),
    ("GET", "/api/projects/{project_id}/drafts/exposure", 200),
    ("GET", "/api/projects/{project_id}/drafts/{ref}", 200),
    ("PUT", "/api/projects/{project_id}/drafts/{ref}", 422),
    ("POST", "/api/projects/{project_id}/drafts/reassociations", 422),
    ("POST", "/api/projects/{project_id}/drafts/assertions", 422),
    ("POST", "/api/projects/{project_id}/drafts/register", 422),
    ("DELETE", "/api/projects/{project_id}/drafts/{ref}/registration", 204),
]


def studio_spec(name: str) -> dict[str, Any]:
    """An example with its functions as bridge agents; the graph loses its refine loop (an agent
    never adds the stars that end it), so every run completes."""
    spec = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    components = spec.setdefault("components", {})
    agents = components.setdefault("agents", {})
    for function in components.pop("functions", {}) or {}:
        agents.setdefault(function, {"name": function, "runtime_preferences": copy.deepcopy(BRIDGE)})
    workflows = [spec["workflow"], *(components.get("workflows") or {}).values()]
    for workflow in workflows:
        nodes = workflow.get("nodes") or {}
        for step in [*(workflow.get("steps") or []), *(workflow.get("participants") or []), *nodes.values()]:
            if isinstance(step, dict) and step.get("kind") == "function":
                step["kind"] = "agent"
        if "edges" in workflow:
            workflow["edges"] = [e for e in workflow["edges"] if e["from"] != e["to"]]
    return json.loads(json.dumps(spec))  # plain data: Studio refuses YAML anchors


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studio-project")
    for name in KINDS:
        (root / f"{name}.yaml").write_text(yaml.safe_dump(studio_spec(name), sort_keys=False))
    return root


@pytest.fixture(scope="module")
def studio_env(stack: Api, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Studio's own home (its state store must lie outside the project) with a profile for kneo."""
    home = tmp_path_factory.mktemp("studio-home")
    (home / "config" / "kneo").mkdir(parents=True)
    (home / "config" / "kneo" / "client.toml").write_text(
        f'[platform]\nurl = "{stack.base_url}"\napi_key = "{KEYS["admin"]}"\n'
    )
    return client_env(home, KNEO_STUDIO_DEFAULT_PROFILE="platform")


@pytest.fixture(scope="module")
def studio(studio_env: dict[str, str], project: Path) -> Iterator[Bff]:
    bff = start_bff(STUDIO_APP, studio_env, project, "/api/me")
    yield bff
    bff.stop()


def call(studio: Bff, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
    response = requests.request(method, studio.base_url + path, timeout=120, **kwargs)
    assert response.status_code == status, (method, path, response.status_code, response.text[:600])
    return response.json() if response.content else None


def artifact(studio: Bff, name: str) -> str:
    """Register the example's file (once) and snapshot it as an artifact bound to the platform."""
    drafts = {d["ref"]: d for d in call(studio, "GET", f"{PROJECT}/drafts")}
    ref = f"{name}.yaml"
    if ref not in drafts:
        digest = call(studio, "GET", f"{PROJECT}/drafts/exposure")["exposure_digest"]
        call(studio, "POST", f"{PROJECT}/drafts/register", 201, json={"path": ref, "exposure_digest": digest})
        drafts = {d["ref"]: d for d in call(studio, "GET", f"{PROJECT}/drafts")}
    body = {"base": {"path": ref, "revision": drafts[ref]["revision"]}, "alias": "default"}
    return call(studio, "POST", f"{PROJECT}/artifacts", 201, json=body)["id"]


def test_studio_sees_the_platform(stack: Api, studio: Bff) -> None:
    assert call(studio, "GET", "/api/readyz")["status"] == "ready"
    assert call(studio, "GET", "/api/me")["projects"][0]["id"] == "default"
    assert call(studio, "GET", f"{PROJECT}/environments") == [{"alias": "default", "url": stack.base_url}]
    assert [p["id"] for p in call(studio, "GET", "/api/projects")] == ["default"]
    assert call(studio, "GET", PROJECT)["role"] == "owner"
    assert call(studio, "GET", f"{PROJECT}/limits")["taint_used"] == 0


@pytest.mark.parametrize("name", sorted(KINDS))
def test_test_run_and_canvas_for_every_kind(stack: Api, studio: Bff, name: str) -> None:
    kind = KINDS[name]
    artifact_id = artifact(studio, name)
    body = {"artifact_id": artifact_id}
    assert call(studio, "POST", f"{PROJECT}/specs/validate", json=body) == {
        "stage": "validate",
        "ok": True,
        "detail": {"valid": True},
    }
    assert call(studio, "POST", f"{PROJECT}/specs/compile", json=body)["ok"] is True
    assert call(studio, "POST", f"{PROJECT}/specs/policy-report", json=body)["detail"]["valid"] is True
    picture = call(studio, "POST", f"{PROJECT}/specs/graph", json=body)
    assert picture["available"] is (kind in PICTURED), picture
    if kind in PICTURED:
        assert picture["workflow_kind"] == kind and picture["nodes"] and picture["start"] == picture["nodes"][0]["id"]

    run = call(studio, "POST", f"{PROJECT}/test-runs", 202, json={**body, "input": "quarterly metrics"})
    final = stack.wait_status(run["platform_run_id"], {"completed", "failed"}, timeout=90)
    assert final["status"] == "completed", final
    path = f"{PROJECT}/test-runs/{run['id']}"
    assert call(studio, "GET", path)["platform"]["status"] == "completed"
    canvas = call(studio, "GET", f"{path}/graph")
    assert canvas["status"] == "completed" and canvas["workflow_kind"] == kind
    ids = {n["id"] for n in canvas["nodes"]}
    assert ids and set(canvas["visited"]) <= ids and canvas["visited"], canvas
    assert all({e["source"], e["target"]} <= ids for e in canvas["edges"])
    events = call(studio, "GET", f"{path}/trace", params={"limit": 5, "offset": 0})["events"]
    assert events[0]["type"] == "workflow_started"
    checkpoints = call(studio, "GET", f"{path}/checkpoints", params={"limit": 50})["checkpoints"]
    assert checkpoints[0]["type"] == "run_started"
    diff = call(studio, "GET", f"{path}/checkpoints/diff")
    assert diff["run_id"] == run["platform_run_id"]
    assert call(studio, "POST", f"{path}/cancel")["outcome"] == "already_finished"


def test_preview_preflight_and_cancel(stack: Api, studio: Bff, project: Path) -> None:
    name = "sequential_pipeline"
    artifact_id = artifact(studio, name)
    draft = call(studio, "GET", f"{PROJECT}/drafts/{name}.yaml")
    preview = call(
        studio,
        "POST",
        f"{PROJECT}/specs/preview",
        json={
            "draft": {"path": f"{name}.yaml", "revision": draft["revision"]},
            "text": draft["text"],
            "alias": "default",
        },
    )
    assert preview["ok"] is True and [s["stage"] for s in preview["stages"]][:2] == ["validate", "compile"]
    policy = call(studio, "GET", f"{PROJECT}/artifacts/{artifact_id}/preflight/policy")
    assert policy["state"] == "available" and policy["unavailable_reason"] is None
    credentials = call(studio, "GET", f"{PROJECT}/artifacts/{artifact_id}/preflight/credential-refs")
    assert credentials["state"] == "available" and "providers" in credentials["credentials"]

    slow = studio_spec("sequential_pipeline")
    slow["workflow"]["steps"].insert(0, {"id": "gate", "kind": "human", "ref": "gate"})
    slow["components"]["humans"] = {"gate": {"description": "Hold the run."}}
    (project / "held.yaml").write_text(yaml.safe_dump(slow, sort_keys=False))
    run = call(
        studio, "POST", f"{PROJECT}/test-runs", 202, json={"artifact_id": artifact(studio, "held"), "input": "x"}
    )
    stack.wait_status(run["platform_run_id"], {"blocked"})
    cancelled = call(studio, "POST", f"{PROJECT}/test-runs/{run['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    deadline = time.monotonic() + 30
    while stack.run(run["platform_run_id"])["status"] != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_every_studio_route_answers_as_against_1_2(studio: Bff, studio_env: dict[str, str], project: Path) -> None:
    (project / "sweep.yaml").write_text(yaml.safe_dump(studio_spec("sequential_pipeline"), sort_keys=False))
    ids = {
        "project_id": "default",
        "artifact_id": artifact(studio, "sweep"),
        "ref": "sweep.yaml",
        "source": "n8n",
        "environment": "default",
    }
    answers = []
    for method, template, _ in MINIMAL_CALLS:
        path = template
        for name in ("run_id", "member_id", "invitation_id", "transfer_id", "analysis_id"):
            path = path.replace("{" + name + "}", "nope")
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        body: dict[str, Any] | None = {} if method in ("POST", "PUT") else None
        response = requests.request(method, studio.base_url + path, json=body, timeout=120)
        answers.append((method, template, response.status_code))
    assert answers == MINIMAL_CALLS
    oidc = {("GET", "/api/session/oidc/start"), ("GET", "/api/session/oidc/callback")}  # login mode only
    assert documented_routes(STUDIO_APP, studio_env, project) - oidc == {(m, p) for m, p, _ in MINIMAL_CALLS}
