"""The step task's body, called in this process as a worker calls it (fast tier: PostgreSQL in a
rolled-back transaction, Celery's memory transport for the messages it sends)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kneo.db import transaction, utcnow
from kneo.models import Checkpoint, Run, StepRun
from kneo.tasks.runtime import WorkerRuntime
from kneo.tasks.steps import execute_step
from kneo.workflows.runs import RunRequest, cancel_run, submit_run
from tests.support import specs

Messages = Callable[[], list[dict[str, Any]]]
FUNCTIONS = {"up": "tests.support.functions.upper", "boom": "tests.support.functions.boom"}


def submitted(worker: WorkerRuntime, spec: dict[str, Any]) -> tuple[str, str, int]:
    """A running run of ``spec``: its id, its first step's id and that step's timeout."""
    with worker.sessions() as session, transaction(session):
        run, transition = submit_run(
            session, RunRequest(input="hi", spec=spec), "op", worker.settings, utcnow(), "run.created"
        )
    (dispatch,) = transition.dispatches
    return run.id, dispatch.step_run_id, dispatch.timeout_seconds


def run_row(db: Session, run_id: str) -> Run:
    return db.execute(select(Run).where(Run.id == run_id).execution_options(populate_existing=True)).scalar_one()


def steps_of(db: Session, run_id: str) -> list[tuple[str, str, str | None]]:
    rows = db.execute(select(StepRun).where(StepRun.run_id == run_id).order_by(StepRun.created_at, StepRun.ordinal))
    return [(row.step_id, row.status, row.output_text) for row in rows.scalars()]


def checkpoint_count(db: Session, run_id: str) -> int:
    return db.execute(select(func.count()).where(Checkpoint.run_id == run_id)).scalar_one()


def test_a_step_runs_and_its_successor_is_sent_after_commit(
    worker: WorkerRuntime, db: Session, step_messages: Messages
) -> None:
    spec = specs.sequential([specs.function_step("one", "up"), specs.function_step("two", "up")], functions=FUNCTIONS)
    run_id, first, timeout = submitted(worker, spec)
    execute_step(first, timeout)
    assert steps_of(db, run_id) == [("one", "completed", "HI"), ("two", "queued", None)]
    (message,) = step_messages()
    assert message["step_run_id"] != first and message["eta"] is None
    execute_step(message["step_run_id"], message["timeout"])
    assert step_messages() == []
    run = run_row(db, run_id)
    assert (run.status, run.output_text) == ("completed", "HI")


def test_inline_units_run_to_the_end_in_one_task(worker: WorkerRuntime, db: Session, step_messages: Messages) -> None:
    run_id, first, timeout = submitted(worker, specs.echo_chain(3))
    execute_step(first, timeout)
    assert step_messages() == [], "offline agents chain inline, without a message"
    assert [status for _, status, _ in steps_of(db, run_id)] == ["completed"] * 3
    assert run_row(db, run_id).status == "completed"


def test_a_duplicate_message_changes_nothing(worker: WorkerRuntime, db: Session, step_messages: Messages) -> None:
    spec = specs.sequential([specs.function_step("one", "up")], functions=FUNCTIONS)
    run_id, first, timeout = submitted(worker, spec)
    execute_step(first, timeout)
    settled = (run_row(db, run_id).updated_at, checkpoint_count(db, run_id), steps_of(db, run_id))
    execute_step(first, timeout)
    assert (run_row(db, run_id).updated_at, checkpoint_count(db, run_id), steps_of(db, run_id)) == settled
    assert step_messages() == []


def test_a_raising_function_fails_the_run_with_its_error(worker: WorkerRuntime, db: Session) -> None:
    spec = specs.sequential([specs.function_step("one", "boom")], functions=FUNCTIONS)
    run_id, first, timeout = submitted(worker, spec)
    execute_step(first, timeout)
    run = run_row(db, run_id)
    assert run.status == "failed" and run.error is not None
    assert run.error["type"] == "ValueError" and "boom on hi" in run.error["message"]
    assert steps_of(db, run_id) == [("one", "failed", None)]


def test_a_message_for_a_cancelled_run_executes_nothing(
    worker: WorkerRuntime, db: Session, step_messages: Messages
) -> None:
    spec = specs.sequential([specs.function_step("one", "up")], functions=FUNCTIONS)
    run_id, first, timeout = submitted(worker, spec)
    with transaction(db):
        cancel_run(db, run_id, "op", utcnow())
    execute_step(first, timeout)
    assert steps_of(db, run_id) == [("one", "cancelled", None)]
    assert run_row(db, run_id).status == "cancelled" and step_messages() == []
