"""Settled runs answer from their stored response documents, and those documents stay true.

Every check compares the stored answer with the answer rendered from the run's row (the
documents dropped in SQL), so a stored document can never differ from what the row says.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import specs
from tests.support.services import Api, TopologyOptions

pytestmark = pytest.mark.e2e
FUNCTIONS = {"upper": "tests.support.functions.upper", "marked": "tests.support.functions.fail_once_per_marker"}


@pytest.fixture(scope="module")
def topology_options() -> TopologyOptions:
    return TopologyOptions(env={"KNEO_TEST_MARKER_DIR": "{workdir}"})


def stored(api: Api, run_id: str) -> tuple[bool, bool]:
    [(document, item)] = api.sql(
        "SELECT document IS NOT NULL, list_document IS NOT NULL FROM runs WHERE id = %s", run_id
    )
    return bool(document), bool(item)


def listed(api: Api, run_id: str) -> dict[str, Any]:
    body = api.call("GET", "/v1/runs?limit=1000").json()
    return next(item for item in body["runs"] if item["id"] == run_id)


def assert_documents_true(api: Api, run_id: str) -> None:
    """The stored answers equal the answers rendered from the row, on both prefixes."""
    assert stored(api, run_id) == (True, True)
    answers = [api.run(run_id), api.call("GET", f"/runs/{run_id}").json(), listed(api, run_id)]
    api.sql("UPDATE runs SET document = NULL, list_document = NULL WHERE id = %s", run_id)
    assert [api.run(run_id), api.call("GET", f"/runs/{run_id}").json(), listed(api, run_id)] == answers


def test_a_completed_run_is_served_from_its_documents(stack: Api) -> None:
    run = stack.create_run(specs.echo_chain(3), f"docs-{uuid.uuid4().hex[:8]}")
    assert run["status"] == "completed"
    assert_documents_true(stack, run["run_id"])


def test_a_blocked_run_has_them_and_its_cancel_stores_new_ones(stack: Api) -> None:
    run = stack.create_run(specs.human_flow(), "awaiting review")
    assert run["status"] == "blocked"
    assert_documents_true(stack, run["run_id"])
    cancelled = stack.call("POST", f"/v1/runs/{run['run_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert stack.run(run["run_id"])["status"] == "cancelled"
    assert_documents_true(stack, run["run_id"])


def test_a_resume_drops_the_blocked_runs_documents_and_the_end_stores_new_ones(stack: Api) -> None:
    run = stack.create_run(specs.human_flow(), "ready for review")
    task = stack.call("GET", f"/v1/human-tasks/{run['continuation_id']}", role="reviewer").json()
    resumed = stack.call(
        "POST",
        f"/v1/human-tasks/{run['continuation_id']}/resume",
        role="reviewer",
        json={"request_id": task["request"]["id"], "decision": "approved"},
    )
    assert resumed.status_code == 200, resumed.text
    final = stack.wait_status(run["run_id"], {"completed"})
    assert final["pending_human_request"] is None
    assert_documents_true(stack, run["run_id"])


def test_continue_drops_the_failed_runs_documents_and_the_new_end_stores_new_ones(stack: Api) -> None:
    spec = specs.sequential(
        [specs.function_step("first", "upper"), specs.function_step("flaky", "marked")], functions=FUNCTIONS
    )
    run = stack.create_run(spec, f"cont-{uuid.uuid4().hex[:8]}")
    assert run["status"] == "failed"
    assert stored(stack, run["run_id"]) == (True, True)
    assert stack.run(run["run_id"])["status"] == "failed"
    continued = stack.call("POST", f"/v1/runs/{run['run_id']}/continue")
    assert continued.status_code == 200, continued.text
    assert continued.json()["status"] == "completed"
    final = stack.run(run["run_id"])
    assert final["status"] == "completed" and final["error"] is None
    assert_documents_true(stack, run["run_id"])
