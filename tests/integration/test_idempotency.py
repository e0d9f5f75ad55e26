"""Idempotency keys (contract §4, fixed): per principal, one execution under concurrency, replayed responses."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.support import specs
from tests.support.services import Api, query


def count_runs(database_url: str, marker: str) -> int:
    return int(query(database_url, "SELECT count(*) FROM runs WHERE input_text = %s", marker)[0][0])


def create(api: Api, key: str, text: str, role: str = "operator", **extra: object) -> tuple[int, dict]:
    body = {"input": text, "spec": specs.echo_chain(2), **extra}
    response = api.call("POST", "/v1/runs", role=role, json=body, headers={"Idempotency-Key": key})
    return response.status_code, response.json()


def test_ten_concurrent_creates_with_one_new_key_make_one_run(stack: Api, module_database_url: str) -> None:
    key, text = str(uuid.uuid4()), f"idem {uuid.uuid4()}"
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: create(stack, key, text), range(10)))
    assert {status for status, _ in results} == {200}
    assert len({body["run_id"] for _, body in results}) == 1
    assert count_runs(module_database_url, text) == 1


def test_same_key_from_another_principal_is_not_shared(stack: Api, module_database_url: str) -> None:
    key, text = str(uuid.uuid4()), f"tenant {uuid.uuid4()}"
    status_a, first = create(stack, key, text, role="operator")
    status_b, second = create(stack, key, text, role="service")
    assert status_a == status_b == 200
    assert first["run_id"] != second["run_id"]
    assert count_runs(module_database_url, text) == 2


def test_replay_returns_stored_response_and_conflict_on_other_payload(stack: Api, module_database_url: str) -> None:
    key, text = str(uuid.uuid4()), f"replay {uuid.uuid4()}"
    _, first = create(stack, key, text)
    status, again = create(stack, key, text)
    assert status == 200 and again == first
    status, conflict = create(stack, key, text + " changed")
    assert status == 409
    assert conflict["detail"]["error"] == "idempotency_key_conflict"
    assert conflict["detail"]["scope"] == "runs:create"
    assert count_runs(module_database_url, text) == 1


def test_failed_request_is_not_stored(stack: Api) -> None:
    key = str(uuid.uuid4())
    bad = stack.call(
        "POST", "/v1/runs", json={"input": "x", "spec": {"version": "v1"}}, headers={"Idempotency-Key": key}
    )
    assert bad.status_code == 422
    status, body = create(stack, key, "now valid")
    assert status == 200 and body["status"] == "completed"


def test_overlong_key_is_rejected(stack: Api) -> None:
    status, body = create(stack, "k" * 257, "x")
    assert status == 400
    assert body["detail"]["error"] == "invalid_idempotency_key"
