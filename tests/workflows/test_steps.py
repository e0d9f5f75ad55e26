"""Claim and completion of steps on PostgreSQL (fast tier: one rolled-back transaction per test)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kneo.config import Settings
from kneo.db import transaction, utcnow
from kneo.execution import ClaimedStep, StepOutcome
from kneo.models import Checkpoint, Run, StepRun
from kneo.workflows.runs import RunRequest, cancel_run, submit_run
from kneo.workflows.steps import PlanCache, claim_step, complete_step
from tests.support import specs

FUNCTIONS = {"up": "tests.support.functions.upper"}
GRACE = 2


def two_steps(**first: object) -> dict[str, object]:
    return specs.sequential(
        [specs.function_step("one", "up", **first), specs.function_step("two", "up")], functions=FUNCTIONS
    )


def submitted(db: Session, settings: Settings, spec: dict[str, object]) -> tuple[str, str]:
    """A running run of ``spec`` (committed); returns its id and its first step's id."""
    with transaction(db):
        run, transition = submit_run(db, RunRequest(input="hi", spec=spec), "op", settings, utcnow(), "run.created")
    assert run.status == "running" and len(transition.dispatches) == 1
    return run.id, transition.dispatches[0].step_run_id


def claim(db: Session, step_run_id: str, worker: str = "w1", at_offset: float = 0) -> ClaimedStep | None:
    with transaction(db):
        return claim_step(db, step_run_id, worker, utcnow() + timedelta(seconds=at_offset), GRACE, PlanCache())


def complete(db: Session, claimed: ClaimedStep, outcome: StepOutcome) -> list[str]:
    """Complete ``claimed``; returns the ids of the steps the transition dispatches."""
    with transaction(db):
        transition = complete_step(db, claimed, outcome, utcnow(), 300)
    return [dispatch.step_run_id for dispatch in transition.dispatches]


def step(db: Session, step_run_id: str) -> StepRun:
    row = db.execute(select(StepRun).where(StepRun.id == step_run_id).execution_options(populate_existing=True))
    return row.scalar_one()


def checkpoints(db: Session, run_id: str) -> list[str]:
    rows = db.execute(select(Checkpoint.type).where(Checkpoint.run_id == run_id).order_by(Checkpoint.sequence))
    return list(rows.scalars())


def test_a_queued_step_is_claimed_once(db: Session, settings_fast: Settings) -> None:
    run_id, step_id = submitted(db, settings_fast, two_steps())
    claimed = claim(db, step_id)
    assert claimed is not None
    assert (claimed.run_id, claimed.step_id, claimed.attempt, claimed.input_text) == (run_id, "one", 1, "hi")
    assert claim(db, step_id, worker="w2") is None, "a duplicate message claims nothing"
    row = step(db, step_id)
    assert (row.status, row.worker_id, row.attempt) == ("running", "w1", 1)
    assert row.lease_expires_at is not None and row.lease_expires_at > utcnow()


def test_unknown_steps_and_steps_of_a_cancelled_run_are_not_claimed(db: Session, settings_fast: Settings) -> None:
    assert claim(db, "no-such-step") is None
    run_id, step_id = submitted(db, settings_fast, two_steps())
    with transaction(db):
        cancel_run(db, run_id, "op", utcnow())
    assert claim(db, step_id) is None
    assert step(db, step_id).status == "cancelled"


def test_completion_records_the_output_and_queues_the_next_step(db: Session, settings_fast: Settings) -> None:
    run_id, step_id = submitted(db, settings_fast, two_steps())
    claimed = claim(db, step_id)
    assert claimed is not None
    queued = complete(db, claimed, StepOutcome(output_text="HI"))
    assert step(db, step_id).status == "completed" and step(db, step_id).output_text == "HI"
    assert len(queued) == 1 and queued[0] != step_id
    nxt = step(db, queued[0])
    assert (nxt.step_id, nxt.status, nxt.input_text) == ("two", "queued", "HI")
    assert checkpoints(db, run_id) == ["run_started", "step_completed"]


def test_the_last_completion_settles_the_run(db: Session, settings_fast: Settings) -> None:
    run_id, step_id = submitted(db, settings_fast, two_steps())
    first = claim(db, step_id)
    assert first is not None
    (second_id,) = complete(db, first, StepOutcome(output_text="HI"))
    second = claim(db, second_id)
    assert second is not None
    assert complete(db, second, StepOutcome(output_text="HI!")) == []
    run = db.execute(select(Run).where(Run.id == run_id).execution_options(populate_existing=True)).scalar_one()
    assert (run.status, run.output_text) == ("completed", "HI!")
    assert checkpoints(db, run_id)[-1] == "run_completed"


def test_a_second_completion_of_the_same_attempt_changes_nothing(db: Session, settings_fast: Settings) -> None:
    run_id, step_id = submitted(db, settings_fast, two_steps())
    claimed = claim(db, step_id)
    assert claimed is not None
    assert len(complete(db, claimed, StepOutcome(output_text="HI"))) == 1
    assert complete(db, claimed, StepOutcome(output_text="again")) == []
    assert step(db, step_id).output_text == "HI"
    assert db.execute(select(func.count()).where(StepRun.run_id == run_id)).scalar_one() == 2


def test_an_expired_lease_is_claimed_again_and_the_stale_attempt_changes_nothing(
    db: Session, settings_fast: Settings
) -> None:
    run_id, step_id = submitted(db, settings_fast, two_steps())
    stale = claim(db, step_id, worker="lost")
    assert stale is not None
    assert claim(db, step_id, worker="w2") is None, "the lease still holds"
    timeout = step(db, step_id).timeout_seconds
    retaken = claim(db, step_id, worker="w2", at_offset=timeout + GRACE + 1)
    assert retaken is not None and retaken.attempt == 2
    assert complete(db, stale, StepOutcome(output_text="late")) == []
    row = step(db, step_id)
    assert (row.status, row.attempt, row.worker_id, row.output_text) == ("running", 2, "w2", None)
    assert checkpoints(db, run_id) == ["run_started"]
    assert len(complete(db, retaken, StepOutcome(output_text="HI"))) == 1


def test_a_failure_with_retries_left_is_redispatched_after_a_backoff(db: Session, settings_fast: Settings) -> None:
    run_id, step_id = submitted(db, settings_fast, two_steps(max_retries=1))
    claimed = claim(db, step_id)
    assert claimed is not None
    before = utcnow()
    assert complete(db, claimed, StepOutcome(error={"message": "no", "type": "ValueError"})) == [step_id]
    row = step(db, step_id)
    assert row.status == "retrying" and row.available_at >= before + timedelta(seconds=0.25)
    assert checkpoints(db, run_id) == ["run_started"], "a retried failure settles nothing"
    again = claim(db, step_id, at_offset=1)
    assert again is not None and again.attempt == 2
    assert complete(db, again, StepOutcome(error={"message": "no", "type": "ValueError"})) == []
    assert db.execute(select(Run.status).where(Run.id == run_id)).scalar_one() == "failed"


def test_a_failure_without_retries_fails_the_run(db: Session, settings_fast: Settings) -> None:
    run_id, step_id = submitted(db, settings_fast, two_steps())
    claimed = claim(db, step_id)
    assert claimed is not None
    assert complete(db, claimed, StepOutcome(error={"message": "no", "type": "ValueError"})) == []
    run = db.execute(select(Run).where(Run.id == run_id).execution_options(populate_existing=True)).scalar_one()
    assert run.status == "failed" and run.error is not None and run.error["type"] == "ValueError"
    assert checkpoints(db, run_id) == ["run_started", "step_failed", "run_failed"]


def test_a_completion_after_a_cancel_records_the_step_and_leaves_the_run_cancelled(
    db: Session, settings_fast: Settings
) -> None:
    run_id, step_id = submitted(db, settings_fast, two_steps())
    claimed = claim(db, step_id)
    assert claimed is not None
    with transaction(db):
        cancel_run(db, run_id, "op", utcnow())
    assert complete(db, claimed, StepOutcome(output_text="HI")) == []
    assert db.execute(select(Run.status).where(Run.id == run_id)).scalar_one() == "cancelled"
    assert db.execute(select(func.count()).where(StepRun.run_id == run_id)).scalar_one() == 1
