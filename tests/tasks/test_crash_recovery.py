"""The database decides, Celery delivers: crashes, lost and duplicated messages lose nothing."""

from __future__ import annotations

import importlib
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support import specs
from tests.support.services import Api, query, start_topology

pytestmark = pytest.mark.e2e


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Api]:
    topology = start_topology(
        tmp_path, database_url, 14, KNEO_TEST_MARKER_DIR=str(tmp_path), KNEO_TEST_SLOW_SECONDS="3"
    )
    api = Api(topology.base_url, topology, database_url)
    yield api
    topology.stop()


def sql(url: str, statement: str, *args: object) -> list[tuple[object, ...]]:
    return query(url, statement, *args)


def wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


SLOW_SPEC = specs.sequential(
    [
        specs.function_step("first", "quick"),
        specs.function_step("slow", "slow", timeout_seconds=6),
        specs.function_step("last", "quick"),
    ],
    functions={"quick": "tests.support.functions.upper", "slow": "tests.support.functions.marked_slow"},
)


def test_sigkill_worker_mid_step_completes_once(live: Api, tmp_path: Path) -> None:
    run = live.create_run(SLOW_SPEC, "crash me", async_mode=True)
    wait_for(lambda: any(tmp_path.glob("started-*")))
    live.topology.kill("worker", signal.SIGKILL)
    live.topology.start_worker("worker2")
    final = live.wait_status(run["run_id"], {"completed", "failed"}, timeout=60)
    assert final["status"] == "completed"
    assert final["output_text"] == "DONE: CRASH ME"
    assert final["visited_steps"] == ["first", "slow", "last"]
    completions = sql(
        live.database_url,
        "SELECT step_id, count(*) FROM checkpoints WHERE run_id=%s AND type='step_completed' GROUP BY step_id",
        run["run_id"],
    )
    assert dict(completions) == {"first": 1, "slow": 1, "last": 1}
    attempts = sql(
        live.database_url,
        "SELECT attempt FROM step_runs WHERE run_id=%s AND step_id='slow'",
        run["run_id"],
    )
    assert attempts[0][0] >= 2, "the killed attempt and the recovered one are both counted"


def test_flushall_with_runs_in_flight_every_run_completes(live: Api) -> None:
    spec = specs.sequential(
        [specs.function_step(f"s{i}", "slow") for i in range(3)], functions={"slow": "tests.support.functions.slow"}
    )
    runs = [live.create_run(spec, f"flush {i}", async_mode=True)["run_id"] for i in range(12)]
    time.sleep(0.5)
    redis.Redis.from_url(live.topology.env["KNEO_SERV_BROKER_URL"]).flushall()
    for run_id in runs:
        final = live.wait_status(run_id, {"completed", "failed", "cancelled"}, timeout=120)
        assert final["status"] == "completed", final
        assert final["visited_steps"] == ["s0", "s1", "s2"]


def test_duplicated_step_message_changes_nothing(live: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    run = live.create_run(specs.echo_chain(3), "dup")
    assert run["status"] == "completed"
    step_ids = [
        row[0]
        for row in sql(
            live.database_url,
            "SELECT id FROM step_runs WHERE run_id=%s",
            run["run_id"],
        )
    ]
    before = sql(live.database_url, "SELECT count(*) FROM checkpoints WHERE run_id=%s", run["run_id"])
    celery_module = importlib.import_module("kneo.tasks.app")  # the package's ``app`` is the Celery app itself

    # An app of this test's own on the topology's broker; the process's app (the fast tier's
    # in-memory broker) comes back when the test ends.
    topology_app = celery_module.create_celery_app()
    topology_app.conf.broker_url = live.topology.env["KNEO_SERV_BROKER_URL"]
    monkeypatch.setattr(celery_module, "_app", topology_app)
    from kneo.tasks.dispatch import send_steps
    from kneo.workflows.transitions import Dispatch

    assert send_steps([Dispatch(step_id) for step_id in step_ids * 2]) == len(step_ids) * 2
    time.sleep(3)
    after = sql(live.database_url, "SELECT count(*) FROM checkpoints WHERE run_id=%s", run["run_id"])
    assert after == before
    assert live.run(run["run_id"])["output_text"] == "Final answer: Final answer: Final answer: dup"


def test_cancelled_run_never_ends_completed(live: Api, tmp_path: Path) -> None:
    run = live.create_run(SLOW_SPEC, "cancel me", async_mode=True)
    wait_for(lambda: any(tmp_path.glob("started-*")))
    cancelled = live.call("POST", f"/v1/runs/{run['run_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    time.sleep(5)
    final = live.run(run["run_id"])
    assert final["status"] == "cancelled"
    assert final["visited_steps"] == ["first"]
    slow_row = sql(
        live.database_url,
        "SELECT status, output_text FROM step_runs WHERE run_id=%s AND step_id='slow'",
        run["run_id"],
    )
    assert slow_row == [("completed", "done: CRASH ME".replace("CRASH ME", "CANCEL ME"))]
    assert sql(
        live.database_url,
        "SELECT count(*) FROM step_runs WHERE run_id=%s AND step_id='last'",
        run["run_id"],
    ) == [(0,)]


def _pg_cluster(action: str) -> None:
    version = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True, check=True).stdout.split()[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action], check=True, timeout=120)


def test_postgres_restart_gives_503_then_recovers(live: Api) -> None:
    assert live.call("GET", "/readyz", role=None).status_code == 200
    settled = live.create_run(specs.echo_chain(1), "before restart")
    _pg_cluster("stop")
    try:
        stored = live.call("GET", f"/v1/runs/{settled['run_id']}")  # a settled run's stored document
        assert stored.status_code == 503
        assert stored.json()["detail"]["error"] == "database_unavailable"
        ready = live.call("GET", "/v1/readyz", role=None)
        assert ready.status_code == 503
        assert ready.json()["detail"]["error"] == "not_ready"
        listing = live.call("GET", "/v1/runs")
        assert listing.status_code == 503
        assert listing.json()["detail"]["error"] == "database_unavailable"
        assert live.call("GET", "/healthz", role=None).status_code == 200
    finally:
        _pg_cluster("start")
    deadline = time.monotonic() + 30
    while live.call("GET", "/readyz", role=None).status_code != 200:
        assert time.monotonic() < deadline, "service did not recover"
        time.sleep(0.5)
    run = live.create_run(specs.echo_chain(2), "after restart")
    assert run["status"] == "completed"
    assert live.run(settled["run_id"])["status"] == "completed"


def test_crash_conformance_postgres_restart(tmp_path: Path) -> None:
    """The published suite's PostgreSQL scenario (the same harness as every other scenario)."""
    from tests.scripts.test_crash_conformance import conformance

    result, outcomes = conformance(tmp_path, "--only", "postgres-restart")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert [o["name"] for o in outcomes] == ["postgres-restart"] and outcomes[0]["passed"]
