"""Every route x every built-in role: 200 when the role has the route's scope, 403 otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import specs
from tests.support.scopes import CONTRACT_SCOPES
from tests.support.services import Api

pytestmark = pytest.mark.e2e

ECHO = specs.echo_chain(2)


def blocked_task(api: Api) -> tuple[str, str, str]:
    run = api.create_run(specs.human_flow(), "matrix")
    task = api.call("GET", f"/v1/human-tasks/{run['continuation_id']}").json()
    return run["run_id"], run["continuation_id"], task["request"]["id"]


Route = tuple[str, str, str, Callable[[Api], dict[str, Any]]]


def completed(api: Api) -> str:
    return str(api.create_run(ECHO, "matrix")["run_id"])


def failed(api: Api) -> str:
    spec = specs.sequential([specs.function_step("f", "boom")], functions={"boom": "tests.support.functions.boom"})
    return str(api.create_run(spec, "matrix")["run_id"])


ROUTES: list[Route] = [
    ("GET", "/runs", "runs:read", lambda api: {}),
    ("POST", "/runs", "runs:write", lambda api: {"json": {"input": "m", "spec": ECHO}}),
    ("GET", "/runs/{run}", "runs:read", lambda api: {}),
    ("GET", "/runs/{run}/policy-report", "specs:read", lambda api: {}),
    ("POST", "/runs/{run}/cancel", "runs:write", lambda api: {}),
    ("GET", "/runs/{run}/recovery", "runs:read", lambda api: {}),
    ("GET", "/runs/{run}/replay", "runs:read", lambda api: {}),
    ("POST", "/runs/{failed}/continue", "runs:write", lambda api: {}),
    ("GET", "/runs/{run}/checkpoints/diff", "runs:read", lambda api: {}),
    ("GET", "/runs/{run}/trace", "runs:read", lambda api: {}),
    ("GET", "/runs/{run}/checkpoints", "runs:read", lambda api: {}),
    ("POST", "/specs/validate", "specs:read", lambda api: {"json": {"spec": ECHO}}),
    ("POST", "/specs/compile", "specs:read", lambda api: {"json": {"spec": ECHO}}),
    ("POST", "/specs/explain", "specs:read", lambda api: {"json": {"spec": ECHO}}),
    ("POST", "/specs/policy-report", "specs:read", lambda api: {"json": {"spec": ECHO}}),
    ("POST", "/specs/run", "runs:write", lambda api: {"json": {"input": "m", "spec": ECHO}}),
    ("GET", "/human-tasks", "human:read", lambda api: {}),
    ("GET", "/human-tasks/{task}", "human:read", lambda api: {}),
    ("POST", "/human-tasks/{task}/resume", "human:write", lambda api: {}),
    ("GET", "/audit-events", "audit:read", lambda api: {}),
    ("GET", "/security/credentials", "credentials:read", lambda api: {}),
    ("GET", "/policies/environment", "policies:read", lambda api: {}),
    ("GET", "/policies/environment/matrix", "policies:read", lambda api: {}),
    ("PUT", "/policies/environment/matrix", "policies:write", lambda api: {"json": {"enabled": True}}),
    ("POST", "/policies/environment/matrix/preview", "policies:read", lambda api: {"json": {"enabled": True}}),
    ("GET", "/skills", "specs:read", lambda api: {}),
]


def allowed(role: str, scope: str) -> bool:
    scopes = CONTRACT_SCOPES[role]
    return "*" in scopes or scope in scopes


@pytest.mark.parametrize("prefix", ["", "/v1"])
@pytest.mark.parametrize("role", sorted(CONTRACT_SCOPES))
@pytest.mark.parametrize(("method", "template", "scope", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_route_scope(
    stack: Api, prefix: str, role: str, method: str, template: str, scope: str, body: Callable[[Api], dict[str, Any]]
) -> None:
    kwargs = body(stack)
    path = template
    if "{run}" in path:
        path = path.replace("{run}", completed(stack))
    if "{failed}" in path:
        path = path.replace("{failed}", failed(stack))
    if "{task}" in path:
        _run_id, task_id, request_id = blocked_task(stack)
        path = path.replace("{task}", task_id)
        if method == "POST":
            kwargs = {"json": {"request_id": request_id, "decision": "approved"}}
    response = stack.call(method, prefix + path, role=role, **kwargs)
    if allowed(role, scope):
        assert response.status_code == 200, (role, method, path, response.text[:300])
    else:
        assert response.status_code == 403, (role, method, path, response.text[:300])
        assert response.json()["detail"] == {
            "error": "forbidden",
            "message": f"Missing required scope: {scope}",
            "required_scope": scope,
        }
