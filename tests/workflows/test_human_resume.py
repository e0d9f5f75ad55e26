"""Exactly one resume wins under concurrency; bad resume input changes nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support import specs
from tests.support.services import Api, query

pytestmark = pytest.mark.e2e


def blocked(api: Api, humans: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
    spec = specs.human_flow()
    if humans:
        spec["components"]["humans"]["approver"].update(humans)
    run = api.create_run(spec, "please review")
    assert run["status"] == "blocked"
    task = api.call("GET", f"/v1/human-tasks/{run['continuation_id']}", role="reviewer").json()
    return run["run_id"], run["continuation_id"], task["request"]


def audit_count(url: str, event_type: str, run_id: str) -> int:
    rows = query(url, "SELECT count(*) FROM audit_events WHERE event_type=%s AND run_id=%s", event_type, run_id)
    return int(rows[0][0])


def resume(api: Api, task_id: str, body: dict[str, Any]) -> Any:
    return api.call("POST", f"/v1/human-tasks/{task_id}/resume", role="reviewer", json=body)


def test_ten_concurrent_resumes_one_success_one_decision_event(stack: Api, module_database_url: str) -> None:
    run_id, task_id, request = blocked(stack)
    body = {"request_id": request["id"], "decision": "approved"}
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: resume(stack, task_id, body), range(10)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409}
    errors = {r.json()["detail"]["error"] for r in responses if r.status_code == 409}
    assert errors <= {"resource_locked", "human_task_resolved"}
    assert audit_count(module_database_url, "human.decision", run_id) == 1
    assert stack.wait_status(run_id, {"completed"})["output_text"] == "Final answer: Final answer: please review"


def test_bad_resume_input_gets_a_4xx_and_changes_nothing(stack: Api, module_database_url: str) -> None:
    run_id, task_id, request = blocked(stack, {"request_type": "selection", "options": ["ship", "hold"]})
    cases = [
        ({"request_id": "not-the-request", "decision": "approved"}, 422, "request_id_mismatch"),
        ({"request_id": request["id"], "decision": "selected", "selected_option": "burn"}, 422, "unknown_option"),
        ({"request_id": request["id"], "decision": "provided", "content": "x" * 20_001}, 422, None),
        ({"request_id": request["id"], "decision": "maybe"}, 422, None),
    ]
    for body, status, code in cases:
        response = resume(stack, task_id, body)
        assert response.status_code == status, (body, response.text[:200])
        if code:
            assert response.json()["detail"]["error"] == code
    assert stack.run(run_id)["status"] == "blocked"
    assert audit_count(module_database_url, "human.decision", run_id) == 0
    ok = resume(stack, task_id, {"request_id": request["id"], "decision": "selected", "selected_option": "hold"})
    assert ok.status_code == 200 and ok.json()["status"] == "completed"
    again = resume(stack, task_id, {"request_id": request["id"], "decision": "approved"})
    assert again.status_code == 409 and again.json()["detail"]["error"] == "human_task_resolved"


def test_resume_of_a_cancelled_run_is_refused(stack: Api) -> None:
    run_id, task_id, request = blocked(stack)
    assert stack.call("POST", f"/v1/runs/{run_id}/cancel").json()["status"] == "cancelled"
    response = resume(stack, task_id, {"request_id": request["id"], "decision": "approved"})
    assert response.status_code == 409
    assert stack.run(run_id)["status"] == "cancelled"


def test_ten_mib_chunked_body_is_refused(stack: Api) -> None:
    def body() -> Any:
        yield b'{"input": "'
        for _ in range(160):
            yield b"x" * 65536
        yield b'"}'

    response = stack.call("POST", "/v1/runs", data=body(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["detail"]["error"] == "payload_too_large"


DECISION_BODIES: dict[str, dict[str, Any]] = {
    "approved": {},
    "rejected": {"content": "no"},
    "edited": {"content": "better draft"},
    "selected": {"selected_option": "ship"},
    "provided": {"content": "the answer"},
}
REQUEST_KINDS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "approval": ({}, {"approved", "rejected"}),
    "approval-editable": ({"allow_edit": True}, {"approved", "rejected", "edited"}),
    "review": ({"request_type": "review"}, {"approved", "rejected", "edited"}),
    "correction": ({"request_type": "correction"}, {"approved", "rejected", "edited"}),
    "selection": ({"request_type": "selection", "options": ["ship", "hold"]}, {"selected"}),
    "freeform": ({"request_type": "freeform"}, {"provided"}),
}


@pytest.mark.parametrize("kind", sorted(REQUEST_KINDS))
def test_each_request_type_accepts_exactly_its_decisions(stack: Api, module_database_url: str, kind: str) -> None:
    humans, allowed = REQUEST_KINDS[kind]
    run_id, task_id, request = blocked(stack, humans)
    for decision in sorted(set(DECISION_BODIES) - allowed):
        response = resume(
            stack, task_id, {"request_id": request["id"], "decision": decision, **DECISION_BODIES[decision]}
        )
        assert response.status_code == 422, (kind, decision, response.text[:200])
        detail = response.json()["detail"]
        assert detail["error"] == "decision_not_allowed", detail
        assert decision in detail["message"]
    assert stack.run(run_id)["status"] == "blocked"
    assert audit_count(module_database_url, "human.decision", run_id) == 0
    for decision in sorted(allowed):
        run_id, task_id, request = blocked(stack, humans)
        body = {"request_id": request["id"], "decision": decision, **DECISION_BODIES[decision]}
        response = resume(stack, task_id, body)
        assert response.status_code == 200, (kind, decision, response.text[:200])
        assert audit_count(module_database_url, "human.decision", run_id) == 1


def test_selection_needs_one_of_its_options(stack: Api) -> None:
    run_id, task_id, request = blocked(stack, {"request_type": "selection", "options": ["ship", "hold"]})
    for extra in ({}, {"content": "ship"}, {"selected_option": "maybe"}):
        response = resume(stack, task_id, {"request_id": request["id"], "decision": "selected", **extra})
        assert response.status_code == 422 and response.json()["detail"]["error"] == "unknown_option", extra
    approving = resume(stack, task_id, {"request_id": request["id"], "decision": "approved"})
    assert approving.status_code == 422
    assert stack.run(run_id)["status"] == "blocked"


def test_plain_approval_refuses_an_option(stack: Api) -> None:
    run_id, task_id, request = blocked(stack)
    for body in (
        {"decision": "selected", "selected_option": "maybe"},
        {"decision": "approved", "selected_option": "maybe"},
    ):
        response = resume(stack, task_id, {"request_id": request["id"], **body})
        assert response.status_code == 422, body
    assert stack.run(run_id)["status"] == "blocked" and stack.run(run_id)["output_text"] != "maybe"


def test_assignee_is_shown_to_reviewers_and_secrets_are_not(stack: Api) -> None:
    spec = specs.human_flow()
    spec["components"]["humans"]["approver"]["assignee"] = "dana.reviewer@example.com"
    run = stack.create_run(spec, "ship it, password=hunter2 and mail bob@example.com")
    task = stack.call("GET", f"/v1/human-tasks/{run['continuation_id']}", role="reviewer").json()
    assert task["request"]["assignee"] == "dana.reviewer@example.com"
    assert task["task"]["assignee"] == "dana.reviewer@example.com"
    shown = str(task)
    assert "hunter2" not in shown and "bob@example.com" not in shown
    listed = stack.call("GET", "/v1/human-tasks", role="reviewer", params={"run_id": run["run_id"]}).json()
    assert listed["tasks"][0]["assignee"] == "dana.reviewer@example.com"
    assert "hunter2" not in str(listed)
