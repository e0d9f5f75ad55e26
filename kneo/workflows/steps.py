"""Use cases of the worker: claim a step with a lease, then record its outcome exactly once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from kneo.models import Run, RunStatus, StepRun, StepStatus
from kneo.workflows import engine
from kneo.workflows.recording import add_checkpoint, add_trace_event
from kneo.workflows.transitions import Dispatch, Transition, apply_decision, lock_run


@dataclass(frozen=True)
class ClaimedStep:
    """A step this worker now owns until ``lease_expires_at``."""

    step_run_id: str
    run_id: str
    attempt: int
    max_attempts: int
    step_id: str
    kind: str
    ref: str | None
    input_text: str
    timeout_seconds: int
    plan: dict[str, Any]
    unit: dict[str, Any]


@dataclass
class StepOutcome:
    """What executing a step produced (success when ``error`` is None)."""

    output_text: str | None = None
    error: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)


def claim_step(
    session: Session, step_run_id: str, worker_id: str, now: datetime, grace_seconds: int
) -> ClaimedStep | None:
    """Claim a queued/retrying step (or one whose lease expired) with one conditional UPDATE.

    Returns None when the message is stale or duplicated, or when the run no longer runs.
    """
    claimable = or_(
        StepRun.status.in_(StepStatus.CLAIMABLE),
        and_(StepRun.status == StepStatus.RUNNING, StepRun.lease_expires_at < now),
    )
    timeout = session.execute(select(StepRun.timeout_seconds).where(StepRun.id == step_run_id)).scalar_one_or_none()
    if timeout is None:
        return None
    row = session.execute(
        update(StepRun)
        .where(StepRun.id == step_run_id, claimable, StepRun.available_at <= now + timedelta(seconds=1))
        .values(
            status=StepStatus.RUNNING,
            attempt=StepRun.attempt + 1,
            worker_id=worker_id,
            started_at=now,
            updated_at=now,
            lease_expires_at=now + timedelta(seconds=timeout + grace_seconds),
        )
        .returning(StepRun)
    ).scalar_one_or_none()
    if row is None:
        return None
    run_status, plan = session.execute(select(Run.status, Run.plan).where(Run.id == row.run_id)).one()
    if run_status != RunStatus.RUNNING:
        row.status = StepStatus.CANCELLED
        row.finished_at = now
        return None
    return ClaimedStep(
        step_run_id=row.id,
        run_id=row.run_id,
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        step_id=row.step_id,
        kind=row.kind,
        ref=row.ref,
        input_text=row.input_text or "",
        timeout_seconds=row.timeout_seconds,
        plan=plan,
        unit=dict(row.unit or {}),
    )


def run_is_active(session: Session, run_id: str) -> bool:
    """True while the run may still make progress (cooperative cancellation check)."""
    status = session.execute(select(Run.status).where(Run.id == run_id)).scalar_one_or_none()
    return status == RunStatus.RUNNING


def complete_step(
    session: Session, claimed: ClaimedStep, outcome: StepOutcome, now: datetime, default_timeout: int
) -> Transition:
    """Record a step's outcome once and let the engine decide what follows."""
    run = lock_run(session, claimed.run_id)
    row = session.get(StepRun, claimed.step_run_id, with_for_update=False)
    if row is None or row.status != StepStatus.RUNNING or row.attempt != claimed.attempt:
        return Transition()
    row.finished_at = now
    row.updated_at = now
    row.lease_expires_at = None
    unit = _unit_dict(row)
    if outcome.error is None:
        row.status = StepStatus.COMPLETED
        row.output_text = outcome.output_text
        return _record_success(session, run, row, unit, outcome, now, default_timeout)
    row.error = outcome.error
    if run.status != RunStatus.RUNNING:
        row.status = StepStatus.FAILED
        return Transition()
    decision = engine.step_failed(run.plan, run.engine_state, unit, outcome.error, row.attempt, row.max_attempts)
    if decision.retry_delay is not None:
        row.status = StepStatus.RETRYING
        row.available_at = now + timedelta(seconds=decision.retry_delay)
        row.dispatched_at = now
        _persist_events(session, run, row, outcome, now)
        return Transition([Dispatch(row.id, decision.retry_delay, row.timeout_seconds)])
    row.status = StepStatus.FAILED
    _persist_events(session, run, row, outcome, now)
    add_checkpoint(
        session,
        run,
        "step_failed",
        now,
        step_id=row.step_id,
        metadata=_step_metadata(run, row, outcome.error),
    )
    return apply_decision(session, run, decision, now, default_timeout=default_timeout)


def _record_success(
    session: Session,
    run: Run,
    row: StepRun,
    unit: dict[str, Any],
    outcome: StepOutcome,
    now: datetime,
    default_timeout: int,
) -> Transition:
    events = _persist_events(session, run, row, outcome, now)
    if outcome.messages:
        run.messages = [*run.messages, *outcome.messages]
    if run.status != RunStatus.RUNNING:
        run.updated_at = now
        return Transition()
    decision = engine.step_succeeded(run.plan, run.engine_state, unit, outcome.output_text or "")
    if decision.state.get("mode") != "agent":
        run.visited_steps = [*run.visited_steps, *decision.visited]
        run.current_step_id = row.step_id
        add_checkpoint(
            session,
            run,
            "step_completed",
            now,
            step_id=row.step_id,
            metadata=_step_metadata(run, row, None),
            trace_events=events,
        )
    decision.visited = []
    run.output_text = outcome.output_text
    return apply_decision(session, run, decision, now, default_timeout=default_timeout)


def _persist_events(
    session: Session, run: Run, row: StepRun, outcome: StepOutcome, now: datetime
) -> list[dict[str, Any]]:
    stored = []
    for event in outcome.events:
        fields = {k: v for k, v in event.items() if k not in ("type", "metadata")}
        fields.setdefault("step_id", row.step_id)
        stored.append(add_trace_event(session, run, event["type"], now, metadata=event.get("metadata"), **fields))
    return stored


def _step_metadata(run: Run, row: StepRun, error: dict[str, Any] | None) -> dict[str, Any]:
    workflow = engine.workflow_of(run.plan)
    return {
        "workflow_type": workflow["type"] if workflow else None,
        "input_text": row.input_text,
        "output_text": row.output_text,
        "error": error,
        "iteration": row.attempt,
    }


def _unit_dict(row: StepRun) -> dict[str, Any]:
    stored = dict(row.unit or {})
    return {
        "step_id": row.step_id,
        "kind": row.kind,
        "ref": row.ref,
        "input_text": row.input_text or "",
        "position": stored.get("position", row.ordinal),
        "extra": stored.get("extra", {}),
    }
