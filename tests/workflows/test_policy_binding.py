"""A stored environment policy cannot be escaped by respelling or omitting the environment.

Against the production topology, with a deployment default environment and keys bound to
environments (``env=`` in ``KNEO_SERV_API_KEYS``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import specs
from tests.support.services import API_KEYS_ENV, Api, TopologyOptions

pytestmark = pytest.mark.e2e

BOUND_KEYS = {"prodbot": "prod-bot-token", "multi": "multi-env-token"}
GUARDED = {"input": [{"id": "kw", "type": "keyword", "config": {"keywords": ["forbidden"]}}]}


@pytest.fixture(scope="module")
def topology_options() -> TopologyOptions:
    return TopologyOptions(
        env={
            "KNEO_SERV_DEFAULT_ENVIRONMENT": " Prod ",
            "KNEO_SERV_API_KEYS": (
                f"{API_KEYS_ENV};prodbot:{BOUND_KEYS['prodbot']}:service,env=PROD;"
                f"multi:{BOUND_KEYS['multi']}:operator,env=dev,env=staging"
            ),
        }
    )


@pytest.fixture(scope="module", autouse=True)
def stored_policies(stack: Api) -> None:
    for path in ("/v1/policies/environment/PROD%20", "/v1/policies/environment/staging"):
        stored = stack.call("PUT", path, role="admin", json={"require_guardrails": True})
        assert stored.status_code == 200, stored.text


def as_key(api: Api, key: str, body: dict[str, Any], path: str = "/v1/runs") -> Any:
    return api.call("POST", path, role=None, headers={"Authorization": f"Bearer {key}"}, json=body)


def unguarded(environment: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"input": "hi", "spec": specs.echo_chain(1)}
    if environment is not None:
        body["environment"] = environment
    return body


def guarded(environment: str | None = None) -> dict[str, Any]:
    body = unguarded(environment)
    body["spec"]["agent"]["guardrails"] = GUARDED
    return body


def test_policies_are_stored_under_the_canonical_name(stack: Api) -> None:
    listed = stack.call("GET", "/v1/policies/environment", role="admin").json()
    assert sorted(listed["policies"]) == ["prod", "staging"]
    for spelling in ("prod", "PROD", "%20prod%09"):
        shown = stack.call("GET", f"/v1/policies/environment/{spelling}", role="operator")
        assert shown.json()["policy"]["require_guardrails"] is True, shown.text


@pytest.mark.parametrize("environment", ["prod", "PROD", "prod ", " Prod\t", None, "", "   "])
def test_every_spelling_and_omission_meets_the_prod_policy(stack: Api, environment: str | None) -> None:
    before = stack.sql("SELECT count(*) FROM runs")[0][0]
    for path in ("/v1/runs", "/v1/specs/run"):
        refused = stack.call("POST", path, json=unguarded(environment))
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"]["error"] == "environment_policy_blocked"
        assert refused.json()["detail"]["environment"] == "prod"
    validated = stack.call("POST", "/v1/specs/validate", json={"spec": specs.echo_chain(1), "environment": environment})
    assert validated.json()["valid"] is False, validated.text
    assert stack.sql("SELECT count(*) FROM runs")[0][0] == before
    run = stack.create_run(guarded(environment)["spec"], "hi", **({"environment": environment} if environment else {}))
    assert run["status"] == "completed"
    assert stack.sql("SELECT environment FROM runs WHERE id = %s", run["run_id"]) == [("prod",)]


def test_an_unbound_key_may_name_another_environment(stack: Api) -> None:
    run = stack.create_run(specs.echo_chain(1), "hi", environment="Dev")
    assert run["status"] == "completed"
    assert stack.sql("SELECT environment FROM runs WHERE id = %s", run["run_id"]) == [("dev",)]


def test_a_bound_key_cannot_leave_its_environment(stack: Api) -> None:
    before = stack.sql("SELECT count(*) FROM runs")[0][0]
    for environment in ("dev", "staging", "Dev "):
        refused = as_key(stack, BOUND_KEYS["prodbot"], guarded(environment))
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"]["error"] == "environment_forbidden"
    assert as_key(stack, BOUND_KEYS["prodbot"], unguarded()).json()["detail"]["error"] == "environment_policy_blocked"
    assert stack.sql("SELECT count(*) FROM runs")[0][0] == before
    ok = as_key(stack, BOUND_KEYS["prodbot"], guarded(" PROD"))
    assert ok.status_code == 200 and ok.json()["status"] == "completed", ok.text


def test_a_key_bound_to_several_environments_must_name_one_unless_the_default_is_among_them(stack: Api) -> None:
    refused = as_key(stack, BOUND_KEYS["multi"], guarded())
    assert refused.status_code == 403, refused.text
    assert as_key(stack, BOUND_KEYS["multi"], guarded("prod")).status_code == 403
    assert (
        as_key(stack, BOUND_KEYS["multi"], unguarded("STAGING")).json()["detail"]["error"]
        == "environment_policy_blocked"
    )
    assert as_key(stack, BOUND_KEYS["multi"], unguarded("dev")).json()["status"] == "completed"


def test_a_bound_key_cannot_rewrite_policies(stack: Api) -> None:
    response = stack.call(
        "PUT",
        "/v1/policies/environment/prod",
        role=None,
        headers={"Authorization": f"Bearer {BOUND_KEYS['multi']}"},
        json={"enabled": False},
    )
    assert response.status_code == 403, response.text
    assert stack.call("GET", "/v1/policies/environment/prod", role="operator").json()["policy"]["enabled"] is True
