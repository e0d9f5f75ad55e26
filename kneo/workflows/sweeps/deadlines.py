"""Run deadlines (spec-format §8.10): a running or blocked run past ``deadline_at`` times out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kneo.audit.record import record_audit
from kneo.db import epoch
from kneo.models import HumanTask, Run, RunStatus
from kneo.workflows.recording import add_checkpoint, add_trace_event
from kneo.workflows.sweeps.common import (
    BATCH,
    Outcome,
    cancel_claimable_steps,
    close_task,
    end_run,
    lockable,
    locked,
    positive_seconds,
)
from kneo.workflows.transitions import Transition

DEADLINE_STATUSES = (RunStatus.RUNNING, RunStatus.BLOCKED)


def run_timeout_seconds(run_metadata: Mapping[str, Any], started: datetime | None, deadline: datetime) -> float:
    """The run's timeout: the requested ``timeout_seconds``, else the span from start to deadline."""
    requested = run_metadata.get("timeout_seconds")
    if positive_seconds(requested) is not None:
        return float(requested)  # type: ignore[arg-type]
    return max((deadline - started).total_seconds(), 0.0) if started else 0.0


def deadline_message(timeout_seconds: float) -> str:
    """The run error message of a run past its deadline (contract §8.2)."""
    return f"Run exceeded its {positive_seconds(timeout_seconds) or '0'}s timeout."


def due_runs(session: Session, now: datetime, limit: int = BATCH) -> list[str]:
    """Running or blocked runs past ``deadline_at``, oldest deadline first."""
    stmt = (
        select(Run.id)
        .where(Run.status.in_(DEADLINE_STATUSES), Run.deadline_at <= now)
        .order_by(Run.deadline_at, Run.id)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def time_out_run(session: Session, run_id: str, now: datetime) -> Outcome | None:
    """Move one run past its deadline to ``timed_out``; None when busy or no longer due."""
    run: Run | None = locked(
        session,
        select(Run).where(Run.id == run_id, Run.status.in_(DEADLINE_STATUSES), Run.deadline_at <= now),
    )
    if run is None or run.deadline_at is None:
        return None
    pending = select(HumanTask).where(HumanTask.run_id == run.id, HumanTask.status == "pending")
    tasks = list(session.execute(lockable(session, pending)).scalars())
    if len(tasks) != len(session.execute(pending.with_only_columns(HumanTask.id)).all()):
        return None  # a resume holds the task: it fails on the run lock, or wins; next pass decides
    status_at_timeout = run.status
    timeout = run_timeout_seconds(run.run_metadata or {}, run.started_at or run.created_at, run.deadline_at)
    message = deadline_message(timeout)
    end_run(session, run, RunStatus.TIMED_OUT, {"message": message, "type": "run_timed_out"}, now)
    cancel_claimable_steps(session, run.id, now)
    for task in tasks:
        close_task(task, "timed_out", now)
    timing = {"deadline_at": epoch(run.deadline_at), "timed_out_at": epoch(now), "status_at_timeout": status_at_timeout}
    add_trace_event(session, run, "run_timed_out", now, metadata={"reason": message, **timing})
    add_checkpoint(session, run, "run_timed_out", now, metadata={"reason": message, **timing})
    record_audit(
        session,
        "run.timed_out",
        actor=None,
        run_id=run.id,
        continuation_id=tasks[0].id if tasks else None,
        metadata={"timeout_seconds": timeout, **timing, "closed_tasks": [t.id for t in tasks]},
        now=now,
    )
    return Outcome("timed_out", Transition(settled_run_id=run.id))
