"""What the sweeps share: the batch size, row locks that skip busy rows, and the writes that end a
run or close a task."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, update
from sqlalchemy.orm import Session

from kneo.db import is_sqlite
from kneo.models import HumanTask, Run, StepRun, StepStatus
from kneo.workflows import results
from kneo.workflows.transitions import Transition

BATCH = 500


@dataclass
class Outcome:
    """What one use case did to one row, and what to do after commit."""

    action: str
    transition: Transition = field(default_factory=Transition)


def lockable(session: Session, stmt: Select[Any]) -> Select[Any]:
    """``stmt`` locking its rows and skipping locked ones (PostgreSQL; SQLite has one writer)."""
    return stmt if is_sqlite(session) else stmt.with_for_update(skip_locked=True)


def positive_seconds(value: object) -> str | None:
    """``value`` as a seconds string when it is a positive number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def locked(session: Session, stmt: Select[Any]) -> Any:
    """The first row of ``stmt``, locked, or None when there is none or it is busy."""
    return session.execute(lockable(session, stmt)).scalars().first()


def cancel_claimable_steps(session: Session, run_id: str, now: datetime) -> None:
    """Queued and retrying units never start; a running one finishes, records its output and
    changes nothing (as after a cancel), or its lease lapses and reconcile closes it."""
    session.execute(
        update(StepRun)
        .where(StepRun.run_id == run_id, StepRun.status.in_(StepStatus.CLAIMABLE))
        .values(status=StepStatus.CANCELLED, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def close_task(task: HumanTask, status: str, now: datetime) -> None:
    """Resolve a human task with ``status``."""
    task.status = status
    task.resolved_at = now
    task.updated_at = now


def end_run(session: Session, run: Run, status: str, error: dict[str, Any], now: datetime) -> None:
    """Settle a run with a terminal ``status`` and its error."""
    run.status = status
    run.error = error
    run.completed_at = now
    run.updated_at = now
    run.pending_human_request = None
    results.settle(session, run, run.plan, now)
