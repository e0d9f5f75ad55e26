"""Two Celery worker processes on one broker and database: both take work, no step is claimed twice."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support import specs
from tests.support.services import Api, Topology, start_topology

pytestmark = pytest.mark.e2e

RUNS = 40


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _children(pid: int) -> set[int]:
    return {int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == pid}


def _wait_for_pool(topology: Topology, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(_children(topology.processes[name].pid)) < topology.worker_concurrency:
        assert time.monotonic() < deadline, f"worker {name} did not fork its pool"
        time.sleep(0.2)
    time.sleep(2)  # the consumer connects to the broker once the pool is up


def _worker_process(topology: Topology, worker_id: str) -> str:
    """The worker (by topology name) whose prefork child wrote ``worker_id`` (``host-<pid>-<random>``)."""
    parent = _parent(int(worker_id.rsplit("-", 2)[1]))
    return next(name for name, process in topology.processes.items() if process.pid == parent)


def test_two_worker_processes_claim_every_step_once(database_url: str, tmp_path: Path) -> None:
    topology = start_topology(tmp_path, database_url)
    try:
        topology.start_worker("w2")
        _wait_for_pool(topology, "worker")
        _wait_for_pool(topology, "w2")
        api = Api(topology.base_url, topology, database_url)
        ids = [api.create_run(specs.echo_chain(3), f"scale {i}", async_mode=True)["run_id"] for i in range(RUNS)]
        for run_id in ids:
            assert api.wait_status(run_id, {"completed", "failed", "cancelled"})["status"] == "completed"
        rows = api.sql("SELECT status, attempt, worker_id FROM step_runs")
        starts = api.sql(
            "SELECT run_id, data->>'step_id', count(*) FROM trace_events WHERE type = 'run_started' GROUP BY 1, 2"
        )
        processes = {_worker_process(topology, worker_id) for _status, _attempt, worker_id in rows}
    finally:
        topology.stop()
    assert len(rows) == 3 * RUNS
    assert {(status, attempt) for status, attempt, _ in rows} == {("completed", 1)}
    assert len(starts) == 3 * RUNS and {count for *_, count in starts} == {1}
    assert processes == {"worker", "w2"}
