"""Structured request logs and request ids carried into the workers' step logs."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support import specs
from tests.support.services import Api

pytestmark = pytest.mark.e2e


def json_lines(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def wait_for_records(path: Path, match: dict[str, Any], count: int, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in json_lines(path) if all(r.get(k) == v for k, v in match.items())]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_request_id_reaches_every_step_log(stack: Api) -> None:
    request_id = f"req-{uuid.uuid4()}"
    response = stack.call(
        "POST",
        "/v1/runs",
        json={"input": "trace me", "spec": specs.echo_chain(3)},
        headers={"X-Request-ID": request_id},
    )
    assert response.headers["X-Request-ID"] == request_id
    run_id = response.json()["run_id"]
    workdir = stack.topology.workdir
    steps = wait_for_records(workdir / "worker.log", {"event": "step_executed", "request_id": request_id}, 3)
    assert sorted(r["step_id"] for r in steps) == ["a0", "a1", "a2"]
    assert {r["run_id"] for r in steps} == {run_id}
    assert all(r["status"] == "completed" and r["duration_ms"] >= 0 for r in steps)


def test_one_json_request_record_with_documented_fields(stack: Api) -> None:
    request_id = f"req-{uuid.uuid4()}"
    created = stack.call(
        "POST",
        "/v1/runs",
        json={"input": "log me", "spec": specs.echo_chain(1)},
        headers={"X-Request-ID": request_id, "User-Agent": "kneo-tests/1.0"},
    )
    run_id = created.json()["run_id"]
    workdir = stack.topology.workdir
    records = wait_for_records(workdir / "web.log", {"event": "http_request", "request_id": request_id}, 1)
    assert len(records) == 1
    record = records[0]
    assert record["method"] == "POST" and record["path"] == "/v1/runs" and record["status_code"] == 200
    assert record["run_id"] == run_id and record["user_agent"] == "kneo-tests/1.0"
    assert isinstance(record["duration_ms"], float) and record["client_ip"]


def test_request_log_is_redacted(stack: Api) -> None:
    request_id = f"req-{uuid.uuid4()}"
    stack.call("GET", "/v1/runs/someone@example.com", headers={"X-Request-ID": request_id})
    workdir = stack.topology.workdir
    records = wait_for_records(workdir / "web.log", {"event": "http_request", "request_id": request_id}, 1)
    assert records and "someone@example.com" not in json.dumps(records)


def test_client_ip_ignores_a_forwarded_header_from_an_untrusted_peer(stack: Api) -> None:
    """gunicorn's peer is 127.0.0.1, not a trusted proxy here: X-Forwarded-For cannot choose client_ip."""
    request_id = f"req-{uuid.uuid4()}"
    stack.call("GET", "/healthz", headers={"X-Request-ID": request_id, "X-Forwarded-For": "203.0.113.9"})
    workdir = stack.topology.workdir
    records = wait_for_records(workdir / "web.log", {"event": "http_request", "request_id": request_id}, 1)
    assert [r["client_ip"] for r in records] == ["127.0.0.1"]
