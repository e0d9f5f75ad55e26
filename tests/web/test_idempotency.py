"""Idempotency keys (contract §4, fixed): per principal, one execution under concurrency, replayed responses."""

from __future__ import annotations

import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support import specs
from tests.support.services import Api, query, start_topology

pytestmark = pytest.mark.e2e


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


def _gunicorn_workers(master_pid: int) -> list[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return [int(pid) for pid in children]


def test_reservation_of_a_killed_request_is_taken_over_after_its_lease(database_url: str, tmp_path: Path) -> None:
    topology = start_topology(
        tmp_path,
        database_url,
        KNEO_SERV_IDEMPOTENCY_LEASE_SECONDS="4",
        KNEO_SERV_CLIENT_TIMEOUT="40",
        KNEO_TEST_SLOW_SECONDS="5",
        KNEO_TEST_MARKER_DIR=str(tmp_path),
    )
    api = Api(topology.base_url, topology, database_url)
    key, text = str(uuid.uuid4()), f"killed {uuid.uuid4()}"
    spec = specs.sequential(
        [specs.function_step("slow", "slow")], functions={"slow": "tests.support.functions.marked_slow"}
    )
    body = {"input": text, "spec": spec}
    headers = {"Idempotency-Key": key}
    try:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(api.call, "POST", "/v1/runs", json=body, headers=headers, timeout=120)
            deadline = time.monotonic() + 60
            while not api.sql("SELECT 1 FROM idempotency_records WHERE key=%s AND state='pending'", key):
                assert time.monotonic() < deadline, "the first request never reserved its key"
                time.sleep(0.1)
            for pid in _gunicorn_workers(topology.processes["web"].pid):
                os.kill(pid, signal.SIGKILL)  # the request dies between reserving and finishing
            with pytest.raises(requests.RequestException):
                first.result()
        topology.wait_http("/readyz", 60)
        started = time.monotonic()
        retry = api.call("POST", "/v1/runs", json=body, headers=headers, timeout=120)
        assert retry.status_code == 200, retry.text
        assert retry.json()["status"] == "completed"
        assert time.monotonic() - started < 30, "the retry waited for the dead request"
        replay = api.call("POST", "/v1/runs", json=body, headers=headers, timeout=120)
        assert replay.status_code == 200 and replay.json()["run_id"] == retry.json()["run_id"]
    finally:
        topology.stop()
