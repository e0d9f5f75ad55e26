#!/usr/bin/env python3
"""Crash-semantics conformance: break a real kneo topology on purpose and report what happened.

Starts its own topology on loopback (gunicorn, a Celery worker, Celery beat and a private
redis-server as the broker, on a fresh PostgreSQL database it creates and drops) and runs:

    worker-before-claim   the worker is SIGKILLed, runs are submitted, a new worker starts
    worker-mid-step       the worker is SIGKILLed while a step runs
    after-ack-redelivery  completed steps' messages are delivered again (a worker killed after
                          committing a step but before acking its message leaves exactly this)
    broker-flush          the broker is flushed (FLUSHALL) with runs in flight
    postgres-restart      PostgreSQL is stopped and started (pg_ctlcluster) with runs in flight
    two-beats             a second beat schedules every sweep twice; each expiry happens once

Each scenario prints its expected and observed outcome and the recovery time it measured (from
the moment the fault ends to the last run finishing); the exit status is 1 when one fails.

    python scripts/crash_conformance.py --pg-admin-url postgresql://postgres@127.0.0.1:5432/postgres
    python scripts/crash_conformance.py --skip-postgres-restart --only worker-mid-step,broker-flush

The PostgreSQL restart stops the whole cluster (every database on it): run it only against a
server nothing else uses. The other scenarios touch nothing but the topology's own processes,
database and broker.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from topology import ROOT, Topology, free_port, start_private_redis

API_KEY = "conformance-operator-key-0001"
BRIDGE = {"preferred_mode": "bridge", "allowed_modes": ["bridge"]}
TERMINAL = {"completed", "failed", "cancelled", "expired", "timed_out"}
SLOW_LIMIT = 8  # seconds: the slow step's time limit, so a lost attempt's lease lapses soon


def pipeline(*kinds: str) -> dict[str, Any]:
    """A sequential spec of function steps ``quick`` / ``slow`` (scripts/crash_steps.py)."""
    steps = [
        {
            "id": f"s{i}-{kind}",
            "kind": "function",
            "ref": kind,
            **({"timeout_seconds": SLOW_LIMIT} if kind == "slow" else {}),
        }
        for i, kind in enumerate(kinds)
    ]
    return {
        "version": "v1",
        "agent": {"name": "root", "strategy": {"type": "simple"}, "runtime_preferences": dict(BRIDGE)},
        "workflow": {"type": "sequential", "name": "conformance", "steps": steps},
        "components": {"functions": {k: {"implementation": f"crash_steps.{k}"} for k in ("quick", "slow")}},
    }


def gate(on_timeout: str) -> dict[str, Any]:
    """A run that blocks at a human step expiring after one second."""
    spec = pipeline("quick")
    spec["workflow"]["steps"].insert(0, {"id": "gate", "kind": "human", "ref": "approver"})
    spec["components"]["humans"] = {"approver": {"timeout_seconds": 1, "on_timeout": on_timeout}}
    return spec


@dataclass
class Outcome:
    name: str
    expected: str
    observed: str
    passed: bool
    recovery_seconds: float | None


class Harness:
    """The topology under test and the calls the scenarios make."""

    def __init__(self, workdir: Path, pg_admin_url: str, slow_seconds: float) -> None:
        self.workdir = workdir
        self.pg_admin_url = pg_admin_url
        self.database_url = ""
        self.markers = workdir / "markers"
        self.slow_seconds = slow_seconds
        self.topology: Topology | None = None
        self.redis: subprocess.Popen[bytes] | None = None
        self.workers = 0

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.markers.mkdir(parents=True, exist_ok=True)
        self.database_url = self._create_database()
        self.redis, broker = start_private_redis(self.workdir / "redis")
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": f"{ROOT}:{ROOT / 'scripts'}",
            "KNEO_SERV_DATABASE_URL": self.database_url,
            "KNEO_SERV_BROKER_URL": broker,
            "KNEO_SERV_API_KEYS": f"conformance:{API_KEY}:operator,human:write",
            "KNEO_SERV_ALLOWED_MODULES": "crash_steps",
            "KNEO_SERV_RECONCILE_INTERVAL_SECONDS": "1",
            "KNEO_SERV_RECONCILE_STALE_SECONDS": "2",
            "KNEO_SERV_LEASE_GRACE_SECONDS": "2",
            "KNEO_SERV_HUMAN_SWEEP_INTERVAL_SECONDS": "1",
            "KNEO_CONFORMANCE_MARKER_DIR": str(self.markers),
            "KNEO_CONFORMANCE_SLOW_SECONDS": str(self.slow_seconds),
        }
        self.topology = Topology(env, free_port(), self.workdir, worker_concurrency=2)
        self.topology.start()

    def stop(self) -> None:
        if self.topology is not None:
            self.topology.stop()
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(timeout=20)
        if self.database_url:
            self._drop_database()

    def _admin(self, statement: str) -> None:
        conn = psycopg2.connect(self.pg_admin_url)
        conn.autocommit = True
        try:
            conn.cursor().execute(statement)
        finally:
            conn.close()

    def _create_database(self) -> str:
        name = f"kneo_crash_{uuid.uuid4().hex[:10]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.pg_admin_url.rsplit("/", 1)[0] + f"/{name}"

    def _drop_database(self) -> None:
        name = self.database_url.rsplit("/", 1)[1]
        for _ in range(20):
            try:
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except psycopg2.OperationalError:
                time.sleep(0.5)

    # --- the processes -----------------------------------------------------------------------

    @property
    def live(self) -> Topology:
        assert self.topology is not None, "the topology is not running"
        return self.topology

    def kill_worker(self) -> None:
        name = next(n for n in self.live.processes if n.startswith("worker"))
        self.live.kill(name, signal.SIGKILL)

    def start_worker(self) -> None:
        self.workers += 1
        self.live.start_worker(f"worker{self.workers}")

    # --- HTTP and SQL --------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.live.base_url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {API_KEY}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def submit(self, spec: dict[str, Any], text: str) -> str:
        status, body = self.call("POST", "/v1/runs", {"input": text, "spec": spec, "async_mode": True})
        if status not in (200, 202):
            raise RuntimeError(f"run submission failed: {status} {body}")
        return str(body["run_id"])

    def sql(self, statement: str, *args: object) -> list[tuple[Any, ...]]:
        conn = psycopg2.connect(self.database_url)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(statement, args)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()

    def wait_finished(self, run_ids: Iterable[str], timeout: float) -> dict[str, str]:
        """Every run's status once all are terminal (or whatever they are at the deadline)."""
        ids = list(run_ids)
        deadline = time.monotonic() + timeout
        while True:
            rows = dict(self.sql("SELECT id, status FROM runs WHERE id = ANY(%s)", ids))
            if all(rows.get(i) in TERMINAL for i in ids) or time.monotonic() > deadline:
                return {i: str(rows.get(i)) for i in ids}
            time.sleep(0.1)

    def completions(self, run_ids: list[str]) -> dict[tuple[str, str], int]:
        """(run, step) → step_completed checkpoints: exactly one each means no step ran twice."""
        rows = self.sql(
            "SELECT run_id, step_id, count(*) FROM checkpoints WHERE run_id = ANY(%s) AND type = 'step_completed' "
            "GROUP BY run_id, step_id",
            run_ids,
        )
        return {(r, s): int(n) for r, s, n in rows}

    def wait_marker(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(self.markers.glob("started-*")):
            if time.monotonic() > deadline:
                raise RuntimeError("the slow step never started")
            time.sleep(0.05)


def all_once(harness: Harness, run_ids: list[str], steps: int) -> tuple[bool, str]:
    """Whether every run completed with each of its ``steps`` steps completed exactly once."""
    statuses = harness.wait_finished(run_ids, 120)
    counts = harness.completions(run_ids)
    completed = sum(status == "completed" for status in statuses.values())
    once = all(n == 1 for n in counts.values()) and len(counts) == steps * len(run_ids)
    observed = f"{completed}/{len(run_ids)} runs completed; step completions {sorted(set(counts.values()))}"
    return completed == len(run_ids) and once, observed


def timed_recovery(harness: Harness, run_ids: list[str], steps: int, since: float) -> tuple[bool, str, float]:
    passed, observed = all_once(harness, run_ids, steps)
    return passed, observed, time.monotonic() - since


# --- scenarios ------------------------------------------------------------------------------------


def worker_before_claim(h: Harness) -> Outcome:
    h.kill_worker()
    runs = [h.submit(pipeline("quick", "quick", "quick"), f"before claim {i}") for i in range(5)]
    time.sleep(2)  # the messages wait in the broker with nobody to claim them
    since = time.monotonic()
    h.start_worker()
    passed, observed, recovery = timed_recovery(h, runs, 3, since)
    return Outcome("worker-before-claim", "every run completes, each step once", observed, passed, round(recovery, 2))


def worker_mid_step(h: Harness) -> Outcome:
    for marker in h.markers.glob("started-*"):
        marker.unlink()
    run = h.submit(pipeline("quick", "slow", "quick"), "mid step")
    h.wait_marker()
    h.kill_worker()
    since = time.monotonic()
    h.start_worker()
    passed, observed, recovery = timed_recovery(h, [run], 3, since)
    attempts = h.sql("SELECT attempt FROM step_runs WHERE run_id = %s AND step_id = 's1-slow'", run)
    retried = bool(attempts) and int(attempts[0][0]) >= 2
    return Outcome(
        "worker-mid-step",
        "the run completes; the killed step is retried after its lease and completes once",
        f"{observed}; slow step attempts {attempts[0][0] if attempts else 0}",
        passed and retried,
        round(recovery, 2),
    )


def after_ack_redelivery(h: Harness) -> Outcome:
    run = h.submit(pipeline("quick", "quick", "quick"), "redelivered")
    h.wait_finished([run], 60)
    before = h.sql("SELECT count(*) FROM checkpoints WHERE run_id = %s", run)
    steps = [row[0] for row in h.sql("SELECT id FROM step_runs WHERE run_id = %s", run)]
    from kneo.tasks.app import celery_app
    from kneo.tasks.dispatch import send_steps
    from kneo.workflows.transitions import Dispatch

    celery_app.conf.broker_url = h.live.env["KNEO_SERV_BROKER_URL"]
    sent = send_steps([Dispatch(step_id) for step_id in steps * 2])
    time.sleep(3)
    after = h.sql("SELECT count(*) FROM checkpoints WHERE run_id = %s", run)
    passed, observed = all_once(h, [run], 3)
    return Outcome(
        "after-ack-redelivery",
        "redelivered messages of completed steps are dropped at the claim; nothing changes",
        f"{sent} messages redelivered; checkpoints {before[0][0]} -> {after[0][0]}; {observed}",
        passed and before == after,
        0.0,
    )


def broker_flush(h: Harness) -> Outcome:
    import redis

    runs = [h.submit(pipeline("quick", "quick", "quick"), f"flush {i}") for i in range(10)]
    time.sleep(0.3)
    redis.Redis.from_url(h.live.env["KNEO_SERV_BROKER_URL"]).flushall()
    since = time.monotonic()
    passed, observed, recovery = timed_recovery(h, runs, 3, since)
    return Outcome(
        "broker-flush",
        "reconcile re-dispatches the lost messages; every run completes, each step once",
        observed,
        passed,
        round(recovery, 2),
    )


def _pg_cluster(action: str) -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action], check=True, timeout=120)


def postgres_restart(h: Harness) -> Outcome:
    runs = [h.submit(pipeline("quick", "slow", "quick"), f"pg restart {i}") for i in range(3)]
    _pg_cluster("stop")
    try:
        time.sleep(2)
        ready, _ = h.call("GET", "/readyz")
    finally:
        _pg_cluster("start")
    since = time.monotonic()
    passed, observed, recovery = timed_recovery(h, runs, 3, since)
    return Outcome(
        "postgres-restart",
        "/readyz answers 503 while the database is down; afterwards every run completes, each step once",
        f"/readyz during the outage: {ready}; {observed}",
        passed and ready == 503,
        round(recovery, 2),
    )


def two_beats(h: Harness) -> Outcome:
    h.live.start_beat("beat2")
    expiring = [h.submit(gate("fail"), f"expire {i}") for i in range(4)]
    escalating = [h.submit(gate("escalate"), f"escalate {i}") for i in range(4)]
    statuses = h.wait_finished(expiring, 60)
    deadline = time.monotonic() + 30
    while h.sql("SELECT count(*) FROM human_tasks WHERE run_id = ANY(%s) AND escalated_at IS NULL", escalating)[0][0]:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(3)  # more passes of both beats
    events = dict(
        h.sql(
            "SELECT event_type, count(*) FROM audit_events WHERE run_id = ANY(%s) "
            "AND event_type IN ('human.expired', 'human.escalated') GROUP BY 1",
            [*expiring, *escalating],
        )
    )
    expired = sum(status == "expired" for status in statuses.values())
    passed = expired == 4 and events == {"human.expired": 4, "human.escalated": 4}
    return Outcome(
        "two-beats",
        "each expiry and escalation is applied exactly once",
        f"{expired}/4 runs expired; audit {events}",
        passed,
        None,
    )


SCENARIOS: dict[str, Callable[[Harness], Outcome]] = {
    "worker-before-claim": worker_before_claim,
    "worker-mid-step": worker_mid_step,
    "after-ack-redelivery": after_ack_redelivery,
    "broker-flush": broker_flush,
    "postgres-restart": postgres_restart,
    "two-beats": two_beats,
}


def run_scenarios(harness: Harness, names: list[str]) -> list[Outcome]:
    outcomes = []
    for name in names:
        try:
            outcome = SCENARIOS[name](harness)
        except Exception as exc:  # a scenario that cannot even be observed fails, the others still run
            outcome = Outcome(name, "-", f"error: {exc}", False, None)
        outcomes.append(outcome)
        print(render(outcome), flush=True)
    return outcomes


def render(outcome: Outcome) -> str:
    recovery = "-" if outcome.recovery_seconds is None else f"{outcome.recovery_seconds:.2f}s"
    verdict = "PASS" if outcome.passed else "FAIL"
    return (
        f"{verdict} {outcome.name}\n  expected: {outcome.expected}\n  observed: {outcome.observed}\n"
        f"  recovery: {recovery}"
    )


def selected(only: str | None, skip_postgres_restart: bool) -> list[str]:
    names = [n.strip() for n in only.split(",") if n.strip()] if only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    return [n for n in names if not (skip_postgres_restart and n == "postgres-restart")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--only", help="comma-separated scenarios (default: all)")
    parser.add_argument("--skip-postgres-restart", action="store_true", help="leave the PostgreSQL server alone")
    parser.add_argument(
        "--slow-seconds", type=float, default=3.0, help=f"how long the slow step takes (< {SLOW_LIMIT})"
    )
    parser.add_argument("--workdir", type=Path, help="logs and state (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="also print the outcomes as one JSON line")
    args = parser.parse_args(argv)
    names = selected(args.only, args.skip_postgres_restart)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kneo-crash-"))
    harness = Harness(workdir, args.pg_admin_url, args.slow_seconds)
    try:
        harness.start()
        outcomes = run_scenarios(harness, names)
    finally:
        harness.stop()
    passed = sum(o.passed for o in outcomes)
    bound = max((o.recovery_seconds or 0.0 for o in outcomes), default=0.0)
    summary = f"{passed}/{len(outcomes)} scenarios passed; longest recovery {bound:.2f}s"
    print(f"crash conformance: {summary} (logs in {workdir})")
    if args.json:
        print(json.dumps([o.__dict__ for o in outcomes]))
    return 0 if passed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
