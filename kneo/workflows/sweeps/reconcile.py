"""Reconcile lost work: re-dispatch steps whose message may be lost or whose worker died, and fail
the steps that exhausted their attempts through the normal completion path."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from kneo.execution import ClaimedStep, StepOutcome
from kneo.models import Run, RunStatus, StepRun, StepStatus
from kneo.workflows.steps import complete_step
from kneo.workflows.sweeps.common import BATCH, lockable
from kneo.workflows.transitions import Dispatch, Transition

LOST_ATTEMPT_ALLOWANCE = 3
REDISPATCH_BACKOFF_CAP_SECONDS = 60.0
WORKER_LOST = {"message": "The worker executing this step was lost.", "type": "worker_lost"}


def reconcile(session: Session, now: datetime, stale_seconds: float, default_timeout: int) -> tuple[Transition, int]:
    """One reconcile pass: the transition to send after commit and how many steps exhausted
    their attempts (each failed as a lost worker, its run deciding what follows)."""
    dispatches, exhausted = reconcile_steps(session, now, stale_seconds, LOST_ATTEMPT_ALLOWANCE)
    transition = Transition(dispatches=dispatches)
    for row in exhausted:
        transition.merge(fail_lost_step(session, row, now, default_timeout))
    return transition, len(exhausted)


def fail_lost_step(session: Session, row: StepRun, now: datetime, default_timeout: int) -> Transition:
    """Complete a step whose worker was lost once too often as a ``worker_lost`` failure."""
    plan = session.execute(select(Run.plan).where(Run.id == row.run_id)).scalar_one()
    lost = StepOutcome(error=dict(WORKER_LOST))
    return complete_step(session, ClaimedStep.of(row, plan), lost, now, default_timeout)


def release_all_leases(session: Session) -> None:
    """Forget every lease and dispatch: a restarted single process (the embedded server) owns all
    work again, so what it was running is retried and every open step is re-sent."""
    session.execute(
        update(StepRun)
        .where(StepRun.status == StepStatus.RUNNING)
        .values(status=StepStatus.RETRYING, lease_expires_at=None, worker_id=None)
    )
    session.execute(update(StepRun).where(StepRun.status.in_(StepStatus.CLAIMABLE)).values(dispatched_at=None))


def redispatch_due(row: StepRun, now: datetime, stale_seconds: float) -> bool:
    """Whether a queued step's message is overdue enough to send another one.

    A step that already waited ``w`` seconds before its last dispatch waits ``w`` more (at least
    ``stale_seconds``, at most ``REDISPATCH_BACKOFF_CAP_SECONDS``) before the next, so a long but
    healthy queue gets a few duplicates per step, not one per sweep, while a lost message is still
    re-sent within ``stale_seconds`` of its first dispatch.
    """
    if row.dispatched_at is None:
        return True
    waited_before = (row.dispatched_at - row.available_at).total_seconds() if row.available_at else 0.0
    backoff = max(stale_seconds, min(waited_before, REDISPATCH_BACKOFF_CAP_SECONDS))
    return (now - row.dispatched_at).total_seconds() >= backoff


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
        lockable(
            session,
            select(StepRun)
            .where(
                StepRun.status.in_(StepStatus.CLAIMABLE),
                StepRun.available_at <= now,
                or_(StepRun.dispatched_at.is_(None), StepRun.dispatched_at < stale_before),
            )
            .order_by(StepRun.dispatched_at)
            .limit(BATCH),
        )
    ).scalars()
    dispatches = []
    for row in waiting:
        if not redispatch_due(row, now, stale_seconds):
            continue
        row.dispatched_at = now
        dispatches.append(Dispatch(row.id, 0.0, row.timeout_seconds))
    expired = session.execute(
        lockable(
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
