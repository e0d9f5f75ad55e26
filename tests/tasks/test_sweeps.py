"""Beat sweeps on the production topology: human expiry, run deadlines, retention, two beats at once.

Nothing here calls a sweep by hand except the flask admin command tests: gunicorn, two Celery
workers and two beats run against PostgreSQL and Redis, and the tests poll until beat did it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from tests.support import specs
from tests.support.services import ROOT, Api, TopologyOptions

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def topology_options() -> TopologyOptions:
    """Fast sweeps, and a second worker and beat: two beats schedule every sweep twice."""
    return TopologyOptions(
        env={
            "KNEO_SERV_HUMAN_SWEEP_INTERVAL_SECONDS": "1",
            "KNEO_SERV_DEADLINE_SWEEP_INTERVAL_SECONDS": "1",
            "KNEO_SERV_RETENTION_SWEEP_INTERVAL_SECONDS": "86400",
            "KNEO_TEST_MARKER_DIR": "{workdir}",
            "KNEO_TEST_SLOW_SECONDS": "4",
        },
        workers=1,
        beats=1,
    )


def sql(api: Api, statement: str, *args: object) -> list[tuple[Any, ...]]:
    return api.sql(statement, *args)


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout}s")
        time.sleep(0.2)


def audit_counts(api: Api, run_id: str) -> dict[str, int]:
    return dict(sql(api, "SELECT event_type, count(*) FROM audit_events WHERE run_id=%s GROUP BY 1", run_id))


def gate_spec(on_timeout: str, timeout: int | None = 1) -> dict[str, Any]:
    human: dict[str, Any] = {"description": "Approve", "assignee": "reviewer", "on_timeout": on_timeout}
    if timeout is not None:
        human["timeout_seconds"] = timeout
    return specs.sequential(
        [{"id": "gate", "kind": "human", "ref": "approver"}, specs.function_step("up", "up")],
        functions={"up": "tests.support.functions.upper"},
        humans={"approver": human},
        name=f"gate-{on_timeout}",
    )


def tasks(api: Api, **query: Any) -> list[dict[str, Any]]:
    """Human tasks of every status unless the query names one."""
    response = api.call("GET", "/v1/human-tasks", role="reviewer", params={"status": "all", **query})
    assert response.status_code == 200, response.text
    return response.json()["tasks"]  # type: ignore[no-any-return]


def blocked(api: Api, spec: dict[str, Any], text: str, **body: Any) -> dict[str, Any]:
    run = api.create_run(spec, text, **body)
    assert run["status"] == "blocked", run
    return run


def test_on_timeout_fail_continue_escalate_happen_on_schedule(stack: Api) -> None:
    failing = blocked(stack, gate_spec("fail"), "fail me")
    continuing = blocked(stack, gate_spec("continue"), "continue me")
    escalating = blocked(stack, gate_spec("escalate"), "escalate me")

    expired = stack.wait_status(failing["run_id"], {"expired"}, timeout=30)
    assert expired["error"] == {
        "message": "Human task did not complete within 1s timeout.",
        "type": "human_task_expired",
    }
    [task] = tasks(stack, run_id=failing["run_id"])
    assert task["status"] == "expired"
    resume = stack.call(
        "POST",
        f"/v1/human-tasks/{failing['continuation_id']}/resume",
        role="reviewer",
        json={"request_id": task["pending_human_request_id"], "decision": "approved"},
    )
    assert resume.status_code == 409, resume.text

    done = stack.wait_status(continuing["run_id"], {"completed", "failed"}, timeout=30)
    assert done["status"] == "completed" and done["output_text"] == "CONTINUE ME"
    [task] = tasks(stack, run_id=continuing["run_id"])
    assert task["decision"] == "approved" and task["reviewer"] is None
    assert task["decision_metadata"] == {"auto_continued": True, "reason": "timeout", "original_assignee": "reviewer"}

    escalated = wait_for(
        lambda: [t for t in tasks(stack, escalated="true") if t["run_id"] == escalating["run_id"]], what="escalation"
    )
    assert escalated[0]["status"] == "pending" and escalated[0]["expires_at"] > escalated[0]["escalated_at"]
    assert escalated[0]["original_expires_at"] is not None and escalated[0]["escalated_at"] is not None
    assert escalated[0]["pending_human_request"]["escalated_at"] == escalated[0]["escalated_at"]
    assert stack.run(escalating["run_id"])["status"] == "blocked"
    assert escalating["run_id"] not in {t["run_id"] for t in tasks(stack, escalated="false", status="pending")}

    time.sleep(3)  # several more passes of both beats change nothing
    assert audit_counts(stack, failing["run_id"]) == {"run.created": 1, "human.expired": 1}
    assert audit_counts(stack, continuing["run_id"]) == {
        "run.created": 1,
        "human.continued": 1,
        "human.decision": 1,
        "run.completed": 1,
    }
    assert audit_counts(stack, escalating["run_id"]) == {"run.created": 1, "human.escalated": 1}
    late = stack.call(
        "POST",
        f"/v1/human-tasks/{escalating['continuation_id']}/resume",
        role="reviewer",
        json={"request_id": escalated[0]["pending_human_request_id"], "decision": "approved"},
    )
    assert late.status_code == 200 and late.json()["status"] == "completed", late.text


def test_escalation_reassigns_to_the_escalation_assignee(stack: Api) -> None:
    spec = gate_spec("escalate", timeout=1)
    spec["components"]["humans"]["approver"].update(
        assignee="first.reviewer@example.com", escalation_assignee="lead.reviewer@example.com"
    )
    run = blocked(stack, spec, "needs a lead")
    mine = wait_for(lambda: tasks(stack, assignee="lead.reviewer@example.com", run_id=run["run_id"]), what="reassign")
    [task] = mine
    assert task["assignee"] == "lead.reviewer@example.com"
    request = task["pending_human_request"]
    assert request["assignee"] == "lead.reviewer@example.com"
    assert request["previous_assignee"] == "first.reviewer@example.com"
    assert task["expires_at"] == pytest.approx(task["escalated_at"] + 1, abs=0.01)
    assert task["original_expires_at"] < task["escalated_at"]
    assert tasks(stack, assignee="first.reviewer@example.com", run_id=run["run_id"]) == []
    [(metadata,)] = sql(
        stack, "SELECT metadata FROM audit_events WHERE run_id=%s AND event_type='human.escalated'", run["run_id"]
    )
    assert metadata["assignee"] == "lead.reviewer@example.com"
    assert metadata["previous_assignee"] == "first.reviewer@example.com"
    single = stack.call("GET", f"/v1/human-tasks/{run['continuation_id']}", role="reviewer").json()
    assert single["request"]["assignee"] == "lead.reviewer@example.com"
    assert single["task"]["assignee"] == "lead.reviewer@example.com"
    time.sleep(3)  # the extended expiry passes: an escalated task is not swept again
    assert audit_counts(stack, run["run_id"]) == {"run.created": 1, "human.escalated": 1}
    assert stack.run(run["run_id"])["status"] == "blocked"


def test_run_deadline_times_out_blocked_and_running_runs(stack: Api) -> None:
    waiting = blocked(stack, gate_spec("fail", timeout=3600), "wait", timeout_seconds=1)
    slow_spec = specs.sequential(
        [specs.function_step("slow", "slow", timeout_seconds=30), specs.function_step("after", "up")],
        functions={"slow": "tests.support.functions.marked_slow", "up": "tests.support.functions.upper"},
    )
    busy = stack.create_run(slow_spec, "busy", async_mode=True, timeout_seconds=1)

    for run_id, status_at_timeout in ((waiting["run_id"], "blocked"), (busy["run_id"], "running")):
        final = stack.wait_status(run_id, {"timed_out", "completed", "failed"}, timeout=30)
        assert final["status"] == "timed_out"
        assert final["error"] == {"message": "Run exceeded its 1s timeout.", "type": "run_timed_out"}
        [(metadata,)] = sql(stack, "SELECT metadata FROM checkpoints WHERE run_id=%s AND type='run_timed_out'", run_id)
        assert metadata["status_at_timeout"] == status_at_timeout
        assert set(metadata) == {"reason", "deadline_at", "timed_out_at", "status_at_timeout"}
    [task] = tasks(stack, run_id=waiting["run_id"])
    assert task["status"] == "timed_out"
    time.sleep(6)  # the slow step finishes after the timeout: it records, changes nothing
    final = stack.run(busy["run_id"])
    assert final["status"] == "timed_out" and final["visited_steps"] == []
    assert sql(stack, "SELECT count(*) FROM step_runs WHERE run_id=%s AND step_id='after'", busy["run_id"]) == [(0,)]
    for run_id in (waiting["run_id"], busy["run_id"]):
        assert audit_counts(stack, run_id) == {"run.created": 1, "run.timed_out": 1}


def test_two_beats_apply_each_expiry_once(stack: Api) -> None:
    assert stack.topology.processes["beat2"].poll() is None
    expiring = [blocked(stack, gate_spec("fail"), f"race {i}")["run_id"] for i in range(8)]
    escalating = [blocked(stack, gate_spec("escalate"), f"esc {i}")["run_id"] for i in range(4)]
    deadlines = [
        blocked(stack, gate_spec("fail", timeout=3600), f"deadline {i}", timeout_seconds=1)["run_id"] for i in range(8)
    ]
    for run_id in expiring:
        stack.wait_status(run_id, {"expired"}, timeout=30)
    for run_id in deadlines:
        stack.wait_status(run_id, {"timed_out"}, timeout=30)
    wait_for(
        lambda: set(escalating) <= {t["run_id"] for t in tasks(stack, escalated="true", limit=100)}, what="escalations"
    )
    time.sleep(3)
    ids = expiring + escalating + deadlines
    rows = sql(
        stack,
        "SELECT run_id, event_type, count(*) FROM audit_events WHERE run_id = ANY(%s) "
        "AND event_type IN ('human.expired', 'human.escalated', 'run.timed_out') GROUP BY 1, 2",
        ids,
    )
    counted = {(run_id, event): count for run_id, event, count in rows}
    assert counted == {
        **{(run_id, "human.expired"): 1 for run_id in expiring},
        **{(run_id, "human.escalated"): 1 for run_id in escalating},
        **{(run_id, "run.timed_out"): 1 for run_id in deadlines},
    }
    checkpoints = sql(
        stack,
        "SELECT count(*) FROM checkpoints WHERE run_id = ANY(%s) AND type IN ('run_expired', 'run_timed_out')",
        expiring + deadlines,
    )
    assert checkpoints == [(16,)]


def test_cancelled_run_task_is_not_expired(stack: Api) -> None:
    run = blocked(stack, gate_spec("fail"), "cancel first")
    assert stack.call("POST", f"/v1/runs/{run['run_id']}/cancel").json()["status"] == "cancelled"
    time.sleep(3)
    assert stack.run(run["run_id"])["status"] == "cancelled"
    [task] = tasks(stack, run_id=run["run_id"])
    assert task["status"] == "cancelled"
    assert audit_counts(stack, run["run_id"]) == {"run.created": 1, "run.cancelled": 1}


def test_finished_run_task_is_only_closed(stack: Api) -> None:
    run = blocked(stack, gate_spec("fail", timeout=3600), "stale")
    # Another path finished the run: its stored blocked-run documents went with the change.
    finished = "UPDATE runs SET status='completed', error=NULL, document=NULL, list_document=NULL WHERE id=%s"
    sql(stack, finished, run["run_id"])
    sql(stack, "UPDATE human_tasks SET expires_at=now() WHERE run_id=%s", run["run_id"])
    wait_for(lambda: tasks(stack, run_id=run["run_id"])[0]["status"] == "closed", what="task closed")
    final = stack.run(run["run_id"])
    assert final["status"] == "completed" and final["error"] is None
    assert audit_counts(stack, run["run_id"]) == {"run.created": 1, "human.closed": 1}


def flask(api: Api, *args: str, **env: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "sweeps", *args],
        cwd=ROOT,
        env={**api.topology.env, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_flask_sweep_commands_run_once(stack: Api) -> None:
    for name in ("human-expiry", "deadlines"):
        output = flask(stack, name)
        assert output["sweep"] == name and isinstance(output["counts"], dict)
    reconcile = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "sweeps", "reconcile"],
        cwd=ROOT,
        env=stack.topology.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reconcile.returncode == 0 and "re-dispatched" in reconcile.stdout, reconcile.stderr[-3000:]


def test_retention_command_deletes_only_terminal_and_old(stack: Api) -> None:
    old_done = [stack.create_run(specs.echo_chain(2), f"old {i}")["run_id"] for i in range(3)]
    old_expired = blocked(stack, gate_spec("fail"), "old expired")["run_id"]
    stack.wait_status(old_expired, {"expired"})
    old_active = blocked(stack, gate_spec("fail", timeout=3600), "old but blocked")["run_id"]
    recent_done = stack.create_run(specs.echo_chain(2), "recent")["run_id"]
    keyed = stack.call(
        "POST", "/v1/runs", json={"input": "keyed", "spec": specs.echo_chain(1)}, headers={"Idempotency-Key": "ret-1"}
    )
    assert keyed.status_code == 200
    keyed_id = keyed.json()["run_id"]
    aged = [*old_done, old_expired, old_active]
    sql(stack, "UPDATE runs SET updated_at = now() - interval '10 days' WHERE id = ANY(%s)", aged)
    for table, column in (("checkpoints", "created_at"), ("trace_events", "timestamp")):
        sql(stack, f"UPDATE {table} SET {column} = now() - interval '10 days' WHERE run_id = ANY(%s)", aged)
        sql(stack, f"UPDATE {table} SET {column} = now() - interval '3 days' WHERE run_id = %s", recent_done)
    sql(stack, "UPDATE audit_events SET created_at = now() - interval '40 days' WHERE run_id = %s", keyed_id)
    sql(stack, "UPDATE idempotency_records SET created_at = now() - interval '10 days' WHERE key = 'ret-1'")
    aged_audit = sql(stack, "SELECT count(*) FROM audit_events WHERE run_id = %s", keyed_id)[0][0]
    pruned_runs_audit = sql(stack, "SELECT count(*) FROM audit_events WHERE run_id = ANY(%s)", aged[:4])[0][0]
    before = {
        table: sql(stack, f"SELECT count(*) FROM {table} WHERE run_id = %s", old_active)[0][0]
        for table in ("checkpoints", "trace_events", "human_tasks")
    }

    windows = {
        "KNEO_SERV_RETENTION_RUNS_DAYS": "7",
        "KNEO_SERV_RETENTION_CHECKPOINTS_DAYS": "2",
        "KNEO_SERV_RETENTION_TRACE_DAYS": "2",
        "KNEO_SERV_RETENTION_AUDIT_DAYS": "30",
        "KNEO_SERV_RETENTION_IDEMPOTENCY_DAYS": "5",
    }
    counts = flask(stack, "retention", "--batch-size", "2", **windows)["counts"]
    assert counts["runs"] == 4
    assert counts["batches"] >= 3 + 5, "runs need three batches of two, every other category one"
    assert counts["audit_events"] == aged_audit + pruned_runs_audit and aged_audit >= 1, "runs take their events"
    assert counts["idempotency_records"] == 1
    assert counts["checkpoints"] > 0 and counts["trace_events"] > 0

    remaining = {row[0] for row in sql(stack, "SELECT id FROM runs WHERE id = ANY(%s)", [*aged, recent_done])}
    assert remaining == {old_active, recent_done}
    for table in ("step_runs", "checkpoints", "trace_events", "human_tasks", "audit_events"):
        assert sql(stack, f"SELECT count(*) FROM {table} WHERE run_id = ANY(%s)", [*old_done, old_expired]) == [(0,)]
    after = {
        table: sql(stack, f"SELECT count(*) FROM {table} WHERE run_id = %s", old_active)[0][0]
        for table in ("checkpoints", "trace_events", "human_tasks")
    }
    assert after == before, "an active run keeps everything, however old"
    assert stack.run(recent_done)["status"] == "completed"
    assert sql(stack, "SELECT count(*) FROM checkpoints WHERE run_id = %s", recent_done) == [(0,)]
    assert sql(stack, "SELECT count(*) FROM audit_events WHERE run_id = %s", keyed_id) == [(0,)]
    assert sql(stack, "SELECT count(*) FROM idempotency_records WHERE key = 'ret-1'") == [(0,)]
    assert flask(stack, "retention", **windows)["counts"]["runs"] == 0


def test_concurrent_sweepers_on_postgres_apply_each_change_once(database_url: str, tmp_path: Path) -> None:
    """Eight sweepers at once on the same due rows: SKIP LOCKED plus the re-check, no double change."""
    from sqlalchemy import update

    from kneo import migrate
    from kneo.config import load_settings
    from kneo.db import make_engine, make_session_factory, transaction, utcnow
    from kneo.models import HumanTask, Run
    from kneo.workflows.runs import RunRequest, submit_run
    from kneo.workflows.sweeps import deadlines, expiry

    settings = load_settings(
        {
            "KNEO_SERV_DATABASE_URL": database_url,
            "KNEO_SERV_ALLOWED_MODULES": "tests.support",
            "KNEO_SERV_STATE_DIR": str(tmp_path),
        }
    )
    engine = make_engine(settings, pool_size=10)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    run_ids = {"fail": [], "escalate": [], "deadline": []}  # type: dict[str, list[str]]
    with sessions() as session, transaction(session):
        for kind in run_ids:
            for i in range(10):
                spec = gate_spec("escalate" if kind == "escalate" else "fail", timeout=3600)
                request = RunRequest(
                    input=f"{kind} {i}", spec=spec, timeout_seconds=3600 if kind == "deadline" else None
                )
                run, _ = submit_run(session, request, "op", settings, utcnow(), "run.created")
                run_ids[kind].append(run.id)
        past = utcnow()
        session.execute(
            update(HumanTask).where(HumanTask.run_id.in_(run_ids["fail"] + run_ids["escalate"])).values(expires_at=past)
        )
        session.execute(update(Run).where(Run.id.in_(run_ids["deadline"])).values(deadline_at=past))

    barrier = threading.Barrier(8)
    results: list[str] = []

    def sweeper() -> None:
        barrier.wait()
        for due, handle in (
            (expiry.due_human_tasks, lambda s, i, now: expiry.expire_human_task(s, i, now, 300)),
            (deadlines.due_runs, deadlines.time_out_run),
        ):
            with sessions() as session, transaction(session):
                ids = due(session, utcnow())
            for item in ids:
                with sessions() as session, transaction(session):
                    outcome = handle(session, item, utcnow())
                results.append(outcome.action if outcome else "skipped")

    threads = [threading.Thread(target=sweeper) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    engine.dispose()
    done = Counter(results)
    assert (done["expired"], done["escalated"], done["timed_out"]) == (10, 10, 10), done
    assert done["skipped"] > 0, "the sweepers really did race"
    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT event_type, count(*), count(DISTINCT run_id) FROM audit_events "
                "WHERE event_type <> 'run.created' GROUP BY 1"
            )
            assert sorted(cursor.fetchall()) == [
                ("human.escalated", 10, 10),
                ("human.expired", 10, 10),
                ("run.timed_out", 10, 10),
            ]
    finally:
        conn.close()
