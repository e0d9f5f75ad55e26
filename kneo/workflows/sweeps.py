"""Beat sweeps as use cases: reconcile lost work (more sweeps live beside it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session

from kneo.db import is_sqlite
from kneo.models import Run, RunStatus, StepRun, StepStatus
from kneo.workflows.transitions import Dispatch

BATCH = 500


def _lockable(session: Session, stmt: Select[Any]) -> Select[Any]:
    return stmt if is_sqlite(session) else stmt.with_for_update(skip_locked=True)


def reconcile_steps(
    session: Session, now: datetime, stale_seconds: float, lost_attempt_allowance: int
) -> tuple[list[Dispatch], list[StepRun]]:
    """Re-dispatch queued steps whose message may be lost and steps whose lease expired.

    Returns the dispatches to send after commit and the rows that exhausted their attempts
    (the caller fails them through the normal completion path).
    """
    stale_before = now - timedelta(seconds=stale_seconds)
    run_not_running = ~select(Run.id).where(Run.id == StepRun.run_id, Run.status == RunStatus.RUNNING).exists()
    session.execute(
        update(StepRun)
        .where(StepRun.status.in_(StepStatus.OPEN), run_not_running, StepRun.available_at <= now)
        .where(or_(StepRun.status != StepStatus.RUNNING, StepRun.lease_expires_at < now))
        .values(status=StepStatus.CANCELLED, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    waiting = session.execute(
        _lockable(
            session,
            select(StepRun)
            .where(
                StepRun.status.in_(StepStatus.CLAIMABLE),
                StepRun.available_at <= now,
                or_(StepRun.dispatched_at.is_(None), StepRun.dispatched_at < stale_before),
            )
            .order_by(StepRun.available_at)
            .limit(BATCH),
        )
    ).scalars()
    dispatches = []
    for row in waiting:
        row.dispatched_at = now
        dispatches.append(Dispatch(row.id, 0.0, row.timeout_seconds))
    expired = session.execute(
        _lockable(
            session,
            select(StepRun)
            .where(and_(StepRun.status == StepStatus.RUNNING, StepRun.lease_expires_at < now))
            .limit(BATCH),
        )
    ).scalars()
    exhausted = []
    for row in expired:
        if row.attempt >= row.max_attempts + lost_attempt_allowance:
            exhausted.append(row)
            continue
        row.status = StepStatus.RETRYING
        row.available_at = now
        row.dispatched_at = now
        row.updated_at = now
        row.worker_id = None
        dispatches.append(Dispatch(row.id, 0.0, row.timeout_seconds))
    return dispatches, exhausted
