"""One pass of each beat sweep's body (reconcile, human expiry, deadlines, retention), called in this
process as the worker calls it (fast tier: PostgreSQL in a rolled-back transaction)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kneo.config import Retention
from kneo.db import transaction, utcnow
from kneo.models import HumanTask, Run, StepRun
from kneo.tasks.runtime import WorkerRuntime
from kneo.tasks.sweeps import run_deadlines, run_human_expiry, run_reconcile, run_retention
from kneo.workflows.runs import RunRequest, submit_run
from tests.support import specs

Messages = Callable[[], list[dict[str, Any]]]
FUNCTIONS = {"up": "tests.support.functions.upper"}
LONG_AGO = timedelta(days=10)


def gate(on_timeout: str = "fail") -> dict[str, Any]:
    return specs.sequential(
        [{"id": "gate", "kind": "human", "ref": "h"}, specs.function_step("up", "up")],
        functions=FUNCTIONS,
        humans={"h": {"on_timeout": on_timeout, "assignee": "reviewer", "timeout_seconds": 60}},
    )


def submitted(worker: WorkerRuntime, spec: dict[str, Any], timeout: int | None = None) -> Run:
    with worker.sessions() as session, transaction(session):
        run, _ = submit_run(
            session,
            RunRequest(input="hi", spec=spec, timeout_seconds=timeout),
            "op",
            worker.settings,
            utcnow(),
            "run.created",
        )
    return run


def overdue_task(db: Session, run: Run) -> str:
    """Move the run's human task past its expiry; returns the task id."""
    assert run.status == "blocked" and run.continuation_id
    with transaction(db):
        db.execute(
            update(HumanTask).where(HumanTask.id == run.continuation_id).values(expires_at=utcnow() - timedelta(1))
        )
    return run.continuation_id


def fresh(db: Session, model: type[Any], ident: str) -> Any:
    return db.execute(select(model).where(model.id == ident).execution_options(populate_existing=True)).scalar_one()


def test_expiry_with_fail_expires_the_run_once(worker: WorkerRuntime, db: Session) -> None:
    run = submitted(worker, gate("fail"))
    assert run_human_expiry() == {}, "nothing is due yet"
    task_id = overdue_task(db, run)
    assert run_human_expiry() == {"expired": 1}
    assert run_human_expiry() == {}
    assert (fresh(db, Run, run.id).status, fresh(db, HumanTask, task_id).status) == ("expired", "expired")
    assert fresh(db, Run, run.id).error["type"] == "human_task_expired"


def test_expiry_with_continue_approves_and_sends_the_next_step(
    worker: WorkerRuntime, db: Session, step_messages: Messages
) -> None:
    run = submitted(worker, gate("continue"))
    task_id = overdue_task(db, run)
    assert run_human_expiry() == {"continued": 1}
    task = fresh(db, HumanTask, task_id)
    assert (task.status, task.decision, task.decision_metadata["reason"]) == ("resolved", "approved", "timeout")
    (queued,) = db.execute(select(StepRun).where(StepRun.run_id == run.id)).scalars()
    assert (queued.step_id, queued.status) == ("up", "queued")
    assert [message["step_run_id"] for message in step_messages()] == [queued.id]
    assert fresh(db, Run, run.id).status == "running"


def test_expiry_with_escalate_reassigns_once(worker: WorkerRuntime, db: Session) -> None:
    run = submitted(worker, gate("escalate"))
    task_id = overdue_task(db, run)
    assert run_human_expiry() == {"escalated": 1}
    task = fresh(db, HumanTask, task_id)
    assert task.status == "pending" and task.escalated_at is not None
    assert task.expires_at > utcnow(), "a fresh window"
    assert run_human_expiry() == {}
    assert fresh(db, Run, run.id).status == "blocked"


def test_deadlines_time_out_an_overdue_run_once(worker: WorkerRuntime, db: Session) -> None:
    run = submitted(worker, gate("fail"), timeout=600)
    assert run_deadlines() == {}
    with transaction(db):
        db.execute(update(Run).where(Run.id == run.id).values(deadline_at=utcnow() - timedelta(seconds=1)))
    assert run_deadlines() == {"timed_out": 1}
    assert run_deadlines() == {}
    timed_out = fresh(db, Run, run.id)
    assert timed_out.status == "timed_out" and timed_out.error["type"] == "run_timed_out"


def test_retention_prunes_old_finished_runs_only(worker: WorkerRuntime, db: Session) -> None:
    worker.settings = dataclasses.replace(worker.settings, retention=Retention(runs_days=1))
    finished, active = submitted(worker, gate()), submitted(worker, gate())
    with transaction(db):
        db.execute(update(Run).where(Run.id == finished.id).values(status="completed"))
        db.execute(update(Run).values(updated_at=utcnow() - LONG_AGO))
    counts = run_retention()
    assert counts["runs"] == 1
    assert db.execute(select(Run.id)).scalars().all() == [active.id]


def expire_lease(db: Session, step_run_id: str, **values: Any) -> None:
    """Make the step look claimed by a worker that died: running, its lease lapsed."""
    past = utcnow() - timedelta(minutes=5)
    with transaction(db):
        db.execute(
            update(StepRun)
            .where(StepRun.id == step_run_id)
            .values(status="running", worker_id="dead", lease_expires_at=past, dispatched_at=past, **values)
        )


def first_step(db: Session, run_id: str) -> StepRun:
    return db.execute(select(StepRun).where(StepRun.run_id == run_id)).scalars().one()


def test_reconcile_redispatches_a_step_whose_lease_expired(
    worker: WorkerRuntime, db: Session, step_messages: Messages
) -> None:
    run = submitted(worker, specs.sequential([specs.function_step("up", "up")], functions=FUNCTIONS))
    step = first_step(db, run.id)
    expire_lease(db, step.id, attempt=1)
    assert run_reconcile() == 1
    row = fresh(db, StepRun, step.id)
    assert (row.status, row.worker_id) == ("retrying", None)
    assert [message["step_run_id"] for message in step_messages()] == [step.id]
    assert run_reconcile() == 0, "a fresh dispatch is not sent again"


def test_reconcile_resends_a_queued_step_whose_message_is_stale(
    worker: WorkerRuntime, db: Session, step_messages: Messages
) -> None:
    run = submitted(worker, specs.sequential([specs.function_step("up", "up")], functions=FUNCTIONS))
    step = first_step(db, run.id)
    assert run_reconcile() == 0, "just dispatched"
    with transaction(db):
        db.execute(update(StepRun).where(StepRun.id == step.id).values(dispatched_at=utcnow() - LONG_AGO))
    assert run_reconcile() == 1
    assert [message["step_run_id"] for message in step_messages()] == [step.id]


def test_reconcile_fails_a_step_that_lost_its_worker_too_often(
    worker: WorkerRuntime, db: Session, step_messages: Messages
) -> None:
    run = submitted(worker, specs.sequential([specs.function_step("up", "up")], functions=FUNCTIONS))
    step = first_step(db, run.id)
    expire_lease(db, step.id, attempt=step.max_attempts + 3)
    assert run_reconcile() == 0
    assert fresh(db, StepRun, step.id).status == "failed"
    failed = fresh(db, Run, run.id)
    assert failed.status == "failed" and failed.error["type"] == "worker_lost"
    assert step_messages() == []
