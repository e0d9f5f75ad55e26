"""The embedded default (``kneo serve``: web, worker and beat in one process on SQLite) behaves as production."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.embedded.server import KNEO, EmbeddedServer
from tests.support import specs
from tests.support.services import Api

pytestmark = pytest.mark.e2e

SLOW_SPEC = specs.sequential(
    [
        specs.function_step("first", "quick"),
        specs.function_step("slow", "slow", timeout_seconds=6),
        specs.function_step("last", "quick"),
    ],
    functions={"quick": "tests.support.functions.upper", "slow": "tests.support.functions.marked_slow"},
)
REDIS_PORT, POSTGRES_PORT = 6379, 5432


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def started(marker_dir: Path, text: str) -> bool:
    """True once ``marked_slow`` began executing for this input (it writes the input upper-cased)."""
    return any(marker.read_text() == text for marker in marker_dir.glob("started-*"))


def completions(server: EmbeddedServer, run_id: str) -> dict[str, int]:
    rows = server.sql(
        "SELECT step_id, count(*) FROM checkpoints WHERE run_id=? AND type='step_completed' GROUP BY step_id", run_id
    )
    return {str(step): int(count) for step, count in rows}


def pending_task(api: Api, run_id: str) -> dict[str, Any]:
    listing = api.call("GET", "/v1/human-tasks", role="reviewer", params={"run_id": run_id})
    assert listing.status_code == 200, listing.text
    tasks = [task for task in listing.json()["tasks"] if task["run_id"] == run_id]
    assert len(tasks) == 1 and tasks[0]["status"] == "pending", tasks
    return tasks[0]


def test_no_server_needed_sqlite_in_state_dir(api: Api, shared_server: EmbeddedServer) -> None:
    assert "KNEO_SERV_BROKER_URL" not in shared_server.env and "KNEO_SERV_DATABASE_URL" not in shared_server.env
    ready = api.call("GET", "/readyz", role=None)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["metadata"]["checks"]
    assert checks["broker"] == {"name": "broker", "ok": True, "kind": "memory", "embedded": True}
    assert checks["queue"]["kind"] == "SQLite" and checks["queue"]["durable"] is True
    assert shared_server.sqlite_path.is_file()
    assert api.call("POST", "/v1/runs", role=None, json={"input": "x", "spec": specs.echo_chain(1)}).status_code == 401
    assert (
        api.call("POST", "/v1/runs", role="viewer", json={"input": "x", "spec": specs.echo_chain(1)}).status_code == 403
    )
    assert api.create_run(specs.echo_chain(1), "no servers")["status"] == "completed"
    assert not shared_server.sockets() & {REDIS_PORT, POSTGRES_PORT}


def test_sync_runs_complete(api: Api) -> None:
    agent = api.create_run(specs.echo_chain(1), "hello", target="agent")
    assert (agent["status"], agent["output_text"]) == ("completed", "Final answer: hello")
    chain = api.create_run(specs.echo_chain(3), "hello")
    assert chain["status"] == "completed"
    assert chain["output_text"] == "Final answer: Final answer: Final answer: hello"
    assert chain["metadata"]["workflow"]["visited_steps"] == ["a0", "a1", "a2"]


def test_async_run_completes_with_checkpoints_and_trace(api: Api, shared_server: EmbeddedServer) -> None:
    created = api.create_run(specs.echo_chain(3), "later", async_mode=True)
    assert created["output_text"] is None
    final = api.wait_status(created["run_id"], {"completed", "failed", "cancelled"}, timeout=30)
    assert final["status"] == "completed"
    assert final["output_text"] == "Final answer: Final answer: Final answer: later"
    checkpoints = api.call("GET", f"/v1/runs/{created['run_id']}/checkpoints", role="viewer")
    assert checkpoints.status_code == 200, checkpoints.text
    steps = [cp["step_id"] for cp in checkpoints.json()["checkpoints"] if cp["type"] == "step_completed"]
    assert sorted(steps) == ["a0", "a1", "a2"]
    trace = api.call("GET", f"/v1/runs/{created['run_id']}/trace", role="viewer")
    assert trace.status_code == 200 and trace.json()["events"], trace.text
    assert completions(shared_server, created["run_id"]) == {"a0": 1, "a1": 1, "a2": 1}


def test_human_step_pauses_then_resume_completes(api: Api) -> None:
    created = api.create_run(specs.human_flow(), "draft it", async_mode=True)
    blocked = api.wait_status(created["run_id"], {"blocked", "completed", "failed"}, timeout=30)
    assert blocked["status"] == "blocked" and blocked["visited_steps"] == ["draft"]
    task = pending_task(api, created["run_id"])
    assert task["id"] == blocked["continuation_id"]
    resumed = api.call(
        "POST",
        f"/v1/human-tasks/{task['id']}/resume",
        role="reviewer",
        json={"request_id": task["pending_human_request_id"], "decision": "approved"},
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "completed"
    assert resumed.json()["output_text"] == "Final answer: Final answer: draft it"
    assert api.run(created["run_id"])["visited_steps"] == ["draft", "approve", "publish"]


def test_sync_run_answers_blocked_with_continuation(api: Api) -> None:
    created = api.create_run(specs.human_flow(), "sync draft")
    assert created["status"] == "blocked" and created["human_intervention_required"] is True
    assert created["continuation_id"] == pending_task(api, created["run_id"])["id"]


def test_cancel_blocked_run_stays_cancelled(api: Api) -> None:
    created = api.create_run(specs.human_flow(), "cancel blocked", async_mode=True)
    api.wait_status(created["run_id"], {"blocked"}, timeout=30)
    task = pending_task(api, created["run_id"])
    cancelled = api.call("POST", f"/v1/runs/{created['run_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    resumed = api.call(
        "POST",
        f"/v1/human-tasks/{task['id']}/resume",
        role="reviewer",
        json={"request_id": task["pending_human_request_id"], "decision": "approved"},
    )
    assert resumed.status_code == 409, resumed.text
    time.sleep(2)
    assert api.run(created["run_id"])["status"] == "cancelled"


def test_cancelled_run_never_ends_completed(api: Api, shared_server: EmbeddedServer) -> None:
    created = api.create_run(SLOW_SPEC, "cancel me", async_mode=True)
    wait_for(lambda: started(shared_server.workdir, "CANCEL ME"))
    cancelled = api.call("POST", f"/v1/runs/{created['run_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    time.sleep(4)
    final = api.run(created["run_id"])
    assert final["status"] == "cancelled"
    assert final["visited_steps"] == ["first"]
    assert shared_server.sql("SELECT count(*) FROM step_runs WHERE run_id=? AND step_id='last'", created["run_id"]) == [
        (0,)
    ]
    assert "slow" not in completions(shared_server, created["run_id"])


def test_flaky_step_retries_and_completes(api: Api) -> None:
    spec = specs.sequential(
        [specs.function_step("flaky", "flaky", max_retries=1)], functions={"flaky": "tests.support.functions.flaky"}
    )
    run = api.create_run(spec, "flaky once")
    assert (run["status"], run["output_text"]) == ("completed", "recovered: flaky once"), run


def test_failing_step_with_continue_passes_input_through(api: Api) -> None:
    spec = specs.sequential(
        [specs.function_step("boom", "boom", on_error="continue"), specs.function_step("after", "upper")],
        functions={"boom": "tests.support.functions.boom", "upper": "tests.support.functions.upper"},
    )
    run = api.create_run(spec, "pass me")
    assert (run["status"], run["output_text"]) == ("completed", "PASS ME"), run
    assert run["metadata"]["workflow"]["visited_steps"] == ["boom", "after"]


def test_sigkill_restart_loses_no_queued_run(server: EmbeddedServer) -> None:
    server.start()
    api = Api(server.base_url)
    texts = [f"restart {i}" for i in range(6)]
    run_ids = [api.create_run(SLOW_SPEC, text, async_mode=True)["run_id"] for text in texts]
    wait_for(lambda: started(server.workdir, texts[0].upper()))
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    open_steps = server.sql("SELECT count(*) FROM step_runs WHERE status IN ('queued', 'retrying', 'running')")
    assert open_steps[0][0] >= len(run_ids), "the kill must leave queued and running steps behind"
    server.start()
    for run_id, text in zip(run_ids, texts, strict=True):
        final = api.wait_status(run_id, {"completed", "failed", "cancelled"}, timeout=90)
        assert final["status"] == "completed", final
        assert final["output_text"] == f"DONE: {text.upper()}"
        assert final["visited_steps"] == ["first", "slow", "last"]
        assert completions(server, run_id) == {"first": 1, "slow": 1, "last": 1}
    assert server.stop() == 0, "kneo serve did not shut down cleanly on SIGTERM"


def test_sigterm_stops_cleanly_and_state_dir_is_exclusive(server: EmbeddedServer) -> None:
    server.start()
    api = Api(server.base_url)
    run_id = api.create_run(SLOW_SPEC, "term me", async_mode=True)["run_id"]
    wait_for(lambda: started(server.workdir, "TERM ME"))
    second = subprocess.run(
        [str(KNEO), "serve", "--port", "0"], cwd=server.workdir, env=server.env, capture_output=True, timeout=60
    )
    assert second.returncode != 0 and b"another kneo serve is running" in second.stderr, second.stderr
    assert server.stop(signal.SIGTERM) == 0, "kneo serve did not shut down cleanly on SIGTERM"
    server.start()
    final = api.wait_status(run_id, {"completed", "failed", "cancelled"}, timeout=60)
    assert (final["status"], final["output_text"]) == ("completed", "DONE: TERM ME"), final
    assert completions(server, run_id) == {"first": 1, "slow": 1, "last": 1}
