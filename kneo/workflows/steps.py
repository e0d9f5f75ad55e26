"""Use cases of the worker: claim a step with a lease, then record its outcome exactly once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from kneo.execution import ClaimedStep, StepOutcome
from kneo.models import Run, RunStatus, StepStatus
from kneo.workflows import engine
from kneo.workflows.recording import add_checkpoint, add_trace_event
from kneo.workflows.transitions import STEP_RUNS, Dispatch, Transition, apply_decision, lock_run
from kneo.writes import amend_row

RUNS = Run.metadata.tables["runs"]
_STAMP = STEP_RUNS.c.updated_at.type


def _claim_statement() -> Update:
    """Claim one step row (``p_*`` parameters): claimable, due, and its run running."""
    step = STEP_RUNS.c
    claimable = or_(
        step.status.in_(StepStatus.CLAIMABLE),
        and_(step.status == StepStatus.RUNNING, step.lease_expires_at < bindparam("p_now", type_=_STAMP)),
    )
    run_is_running = select(RUNS.c.id).where(RUNS.c.id == step.run_id, RUNS.c.status == RunStatus.RUNNING)
    return (
        update(STEP_RUNS)
        .where(
            step.id == bindparam("p_id"),
            claimable,
            step.available_at <= bindparam("p_available_by", type_=_STAMP),
            run_is_running.exists(),
        )
        .values(
            status=StepStatus.RUNNING,
            attempt=step.attempt + 1,
            worker_id=bindparam("p_worker_id"),
            started_at=bindparam("p_now", type_=_STAMP),
            updated_at=bindparam("p_now", type_=_STAMP),
            lease_expires_at=bindparam("p_lease", type_=_STAMP),
        )
        .returning(*STEP_RUNS.c)
    )


def _complete_statement() -> Update:
    """Settle a running step row of the given attempt (``p_*`` parameters)."""
    step = STEP_RUNS.c
    return (
        update(STEP_RUNS)
        .where(step.id == bindparam("p_id"), step.status == StepStatus.RUNNING, step.attempt == bindparam("p_attempt"))
        .values(
            finished_at=bindparam("p_now", type_=_STAMP),
            updated_at=bindparam("p_now", type_=_STAMP),
            lease_expires_at=None,
            status=bindparam("p_status"),
            output_text=bindparam("p_output_text"),
            error=bindparam("p_error", type_=step.error.type),
        )
        .returning(*STEP_RUNS.c)
    )


_CLAIM = _claim_statement()
_COMPLETE = _complete_statement()


class PlanCache:
    """Compiled plans by run id; a run's plan never changes, so a process may keep it."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._plans: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, run_id: str) -> dict[str, Any]:
        with self._lock:
            plan = self._plans.get(run_id)
            if plan is not None:
                self._plans.move_to_end(run_id)
                return plan
        plan = session.execute(select(Run.plan).where(Run.id == run_id)).scalar_one()
        with self._lock:
            self._plans[run_id] = plan
            while len(self._plans) > self._size:
                self._plans.popitem(last=False)
        return plan


def claim_step(
    session: Session,
    step_run_id: str,
    worker_id: str,
    now: datetime,
    grace_seconds: int,
    plans: PlanCache,
    timeout_hint: int | None = None,
) -> ClaimedStep | None:
    """Claim a queued/retrying step (or one whose lease expired) of a running run with one UPDATE.

    Returns None when the message is stale or duplicated, or when the run no longer runs.
    """
    timeout = (
        timeout_hint
        or session.execute(
            select(STEP_RUNS.c.timeout_seconds).where(STEP_RUNS.c.id == step_run_id)
        ).scalar_one_or_none()
    )
    if timeout is None:
        return None
    params = {
        "p_id": step_run_id,
        "p_now": now,
        "p_available_by": now + timedelta(seconds=1),
        "p_worker_id": worker_id,
        "p_lease": now + timedelta(seconds=timeout + grace_seconds),
    }
    row = session.execute(_CLAIM, params).mappings().one_or_none()
    if row is None:
        return None
    return claimed_step(dict(row), plans.get(session, row["run_id"]))


def claimed_step(row: Mapping[str, Any], plan: dict[str, Any]) -> ClaimedStep:
    """The claim of step row ``row`` (as the claim left it) with its run's plan."""
    return ClaimedStep(
        step_run_id=row["id"],
        run_id=row["run_id"],
        attempt=row["attempt"],
        max_attempts=row["max_attempts"],
        step_id=row["step_id"],
        kind=row["kind"],
        ref=row["ref"],
        input_text=row["input_text"] or "",
        timeout_seconds=row["timeout_seconds"],
        plan=plan,
        unit=dict(row["unit"] or {}),
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
    succeeded = outcome.error is None
    params = {
        "p_id": claimed.step_run_id,
        "p_attempt": claimed.attempt,
        "p_now": now,
        "p_status": StepStatus.COMPLETED if succeeded else StepStatus.FAILED,
        "p_output_text": outcome.output_text,
        "p_error": outcome.error,
    }
    found = session.execute(_COMPLETE, params).mappings().one_or_none()
    if found is None:
        return Transition()
    row = dict(found)
    plan = claimed.plan
    unit = _unit_dict(row)
    if succeeded:
        return _record_success(session, run, plan, row, unit, outcome, now, default_timeout)
    error = outcome.error or {}
    if run.status != RunStatus.RUNNING:
        return Transition()
    decision = engine.step_failed(plan, run.engine_state, unit, error, row["attempt"], row["max_attempts"])
    if decision.retry_delay is not None:
        retry_at = now + timedelta(seconds=decision.retry_delay)
        session.execute(
            update(STEP_RUNS)
            .where(STEP_RUNS.c.id == row["id"])
            .values(status=StepStatus.RETRYING, available_at=retry_at, dispatched_at=now)
        )
        _persist_events(session, run, row, outcome, now)
        return Transition([Dispatch(row["id"], decision.retry_delay, row["timeout_seconds"])])
    events = _persist_events(session, run, row, outcome, now)
    if engine.is_root_unit(unit):
        add_checkpoint(
            session,
            run,
            "step_failed",
            now,
            step_id=row["step_id"],
            metadata=_step_metadata(plan, row, outcome.error),
            trace_events=events,
        )
    return apply_decision(session, run, decision, now, default_timeout=default_timeout, plan=plan)


def _record_success(
    session: Session,
    run: Run,
    plan: dict[str, Any],
    row: Mapping[str, Any],
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
    decision = engine.step_succeeded(plan, run.engine_state, unit, outcome.output_text or "")
    run.output_text = outcome.output_text
    return apply_decision(session, run, decision, now, default_timeout=default_timeout, trace_events=events, plan=plan)


def claim_inline(
    session: Session,
    transition: Transition,
    plan: dict[str, Any],
    worker_id: str,
    now: datetime,
    grace_seconds: int,
    runs_inline: Callable[[dict[str, Any], str, str | None], bool],
) -> ClaimedStep | None:
    """Claim the transition's single next step for this worker when it may run inline.

    Saves a broker round trip and a claim transaction per step for units that cannot block
    (``runs_inline`` decides); every other unit is dispatched through Celery with its own limits.
    """
    if len(transition.dispatches) != 1 or len(transition.new_steps) != 1:
        return None
    row = transition.new_steps[0].row
    if not runs_inline(plan, row["kind"], row["ref"]):
        return None
    lease_expires_at = now + timedelta(seconds=row["timeout_seconds"] + grace_seconds)
    claim = {"status": StepStatus.RUNNING, "attempt": 1, "worker_id": worker_id, "started_at": now}
    amend_row(session, STEP_RUNS, row, **claim, lease_expires_at=lease_expires_at)
    transition.dispatches.clear()
    return claimed_step(row, plan)


def _persist_events(
    session: Session, run: Run, row: Mapping[str, Any], outcome: StepOutcome, now: datetime
) -> list[dict[str, Any]]:
    stored = []
    for event in outcome.events:
        fields = {k: v for k, v in event.items() if k not in ("type", "metadata")}
        fields.setdefault("step_id", row["step_id"])
        stored.append(add_trace_event(session, run, event["type"], now, metadata=event.get("metadata"), **fields))
    return stored


def _step_metadata(plan: dict[str, Any], row: Mapping[str, Any], error: dict[str, Any] | None) -> dict[str, Any]:
    workflow = engine.workflow_of(plan)
    return {
        "workflow_type": workflow["type"] if workflow else None,
        "input_text": row["input_text"],
        "output_text": row["output_text"],
        "error": error,
        "iteration": row["attempt"],
    }


def _unit_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    stored = dict(row["unit"] or {})
    return {
        "step_id": row["step_id"],
        "kind": row["kind"],
        "ref": row["ref"],
        "input_text": row["input_text"] or "",
        "position": stored.get("position", row["ordinal"]),
        "extra": stored.get("extra", {}),
    }
