"""Lifecycle sweeps as use cases: human-task expiry (spec-format §7.4) and run deadlines (§8.10).

Each sweep first lists candidate ids, then the shell handles every id in its own short
transaction through one of the use cases here. A use case re-selects its rows with their
conditions under ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and changes them only when the
conditions still hold, so two beats (or a sweep racing a resume or a cancel) never process a
row twice and never wait on each other: a row that is busy is left to the next pass. On SQLite
the single writer serialises transactions and the re-check alone is enough.

Lock order is run → task, the order ``cancel_run`` uses; the sweep never waits for a lock, so
it cannot deadlock with a resume (task → run) either. Use cases take a session, never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from kneo.audit.record import record_audit
from kneo.db import epoch
from kneo.models import HumanTask, Run, RunStatus, StepRun, StepStatus
from kneo.workflows import results
from kneo.workflows.human import Resume, resume_task
from kneo.workflows.recording import add_checkpoint, add_trace_event
from kneo.workflows.sweeps import BATCH, _lockable
from kneo.workflows.transitions import Transition

TIMEOUT_POLICIES = ("fail", "continue", "escalate")
DEADLINE_STATUSES = (RunStatus.RUNNING, RunStatus.BLOCKED)
CONTINUE_FAILED = "human_continue_failed"


@dataclass
class Outcome:
    """What one use case did to one row, and what to do after commit."""

    action: str
    transition: Transition = field(default_factory=Transition)


# ----------------------------------------------------------------------------- pure helpers


def timeout_policy(value: object) -> str:
    """The effective ``on_timeout``: unknown or missing values behave as ``fail`` (contract §9.5)."""
    return value if isinstance(value, str) and value in TIMEOUT_POLICIES else "fail"


def _seconds(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def expiry_message(timeout_seconds: object) -> str:
    """The run error message of an expired human task."""
    seconds = _seconds(timeout_seconds)
    if seconds is None:
        return "Human task did not complete before its deadline."
    return f"Human task did not complete within {seconds}s timeout."


def run_timeout_seconds(run_metadata: Mapping[str, Any], started: datetime | None, deadline: datetime) -> float:
    """The run's timeout: the requested ``timeout_seconds``, else the span from start to deadline."""
    requested = run_metadata.get("timeout_seconds")
    if _seconds(requested) is not None:
        return float(requested)  # type: ignore[arg-type]
    return max((deadline - started).total_seconds(), 0.0) if started else 0.0


def deadline_message(timeout_seconds: float) -> str:
    """The run error message of a run past its deadline (contract §8.2)."""
    return f"Run exceeded its {_seconds(timeout_seconds) or '0'}s timeout."


def escalated_request(
    request: Mapping[str, Any], now: datetime, original: datetime | None, assignee: str | None
) -> dict[str, Any]:
    """The pending request after escalation (contract §9.3), handed to ``assignee``."""
    return {
        **request,
        "escalated_at": epoch(now),
        "original_expires_at": epoch(original),
        "previous_assignee": request.get("assignee"),
        "assignee": assignee,
    }


def escalation_expiry(request: Mapping[str, Any], now: datetime) -> datetime | None:
    """The escalated task's new expiry: a fresh ``timeout_seconds`` window from the escalation."""
    seconds = _seconds(request.get("escalation_timeout_seconds") or request.get("timeout_seconds"))
    return now + timedelta(seconds=float(seconds)) if seconds is not None else None


# ----------------------------------------------------------------------------- shared writes


def _locked(session: Session, stmt: Select[Any]) -> Any:
    return session.execute(_lockable(session, stmt)).scalars().first()


def _cancel_claimable_steps(session: Session, run_id: str, now: datetime) -> None:
    """Queued and retrying units never start; a running one finishes, records its output and
    changes nothing (as after a cancel), or its lease lapses and reconcile closes it."""
    session.execute(
        update(StepRun)
        .where(StepRun.run_id == run_id, StepRun.status.in_(StepStatus.CLAIMABLE))
        .values(status=StepStatus.CANCELLED, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _close_task(task: HumanTask, status: str, now: datetime) -> None:
    task.status = status
    task.resolved_at = now
    task.updated_at = now


def _end_run(session: Session, run: Run, status: str, error: dict[str, Any], now: datetime) -> None:
    run.status = status
    run.error = error
    run.completed_at = now
    run.updated_at = now
    run.pending_human_request = None
    results.settle(session, run, run.plan, now)


# ----------------------------------------------------------------------------- human-task expiry


def due_human_tasks(session: Session, now: datetime, limit: int = BATCH) -> list[str]:
    """Pending, not escalated tasks past ``expires_at`` whose run is not executing, oldest first."""
    stmt = (
        select(HumanTask.id)
        .join(Run, Run.id == HumanTask.run_id)
        .where(
            HumanTask.status == "pending",
            HumanTask.escalated_at.is_(None),
            HumanTask.expires_at <= now,
            Run.status != RunStatus.RUNNING,
        )
        .order_by(HumanTask.expires_at, HumanTask.id)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def expire_human_task(session: Session, task_id: str, now: datetime, default_timeout: int) -> Outcome | None:
    """Apply the task's ``on_timeout`` once; None when the task is busy or no longer due."""
    run_id = session.execute(select(HumanTask.run_id).where(HumanTask.id == task_id)).scalar_one_or_none()
    if run_id is None:
        return None
    run: Run | None = _locked(session, select(Run).where(Run.id == run_id))
    if run is None:
        return None
    task: HumanTask | None = _locked(
        session,
        select(HumanTask).where(
            HumanTask.id == task_id,
            HumanTask.status == "pending",
            HumanTask.escalated_at.is_(None),
            HumanTask.expires_at <= now,
        ),
    )
    if task is None:
        return None
    if run.status in RunStatus.TERMINAL:
        return _close_stale(session, run, task, now)
    if run.status != RunStatus.BLOCKED:
        return None
    policy = timeout_policy(task.on_timeout)
    metadata = {
        "timeout_seconds": task.request.get("timeout_seconds"),
        "expired_at": epoch(now),
        "expires_at": epoch(task.expires_at),
        "on_timeout": policy,
    }
    if policy == "continue":
        return _auto_continue(session, run, task, now, default_timeout, metadata)
    if policy == "escalate":
        return _escalate(session, run, task, now, metadata)
    return _expire(session, run, task, now, metadata)


def _close_stale(session: Session, run: Run, task: HumanTask, now: datetime) -> Outcome:
    """A finished run's task is only closed: the run and its error stay as they are."""
    _close_task(task, "closed", now)
    record_audit(
        session,
        "human.closed",
        actor=None,
        run_id=run.id,
        continuation_id=task.id,
        metadata={"reason": "run_finished", "run_status": run.status, "expires_at": epoch(task.expires_at)},
        now=now,
    )
    return Outcome("closed")


def _expire(session: Session, run: Run, task: HumanTask, now: datetime, metadata: dict[str, Any]) -> Outcome:
    error = {"message": expiry_message(task.request.get("timeout_seconds")), "type": "human_task_expired"}
    _close_task(task, "expired", now)
    _end_run(session, run, RunStatus.EXPIRED, error, now)
    _cancel_claimable_steps(session, run.id, now)
    details = {**metadata, "continuation_id": task.id, "request_id": task.request_id}
    event = add_trace_event(session, run, "human_task_expired", now, metadata=details, step_id=task.step_id)
    add_checkpoint(
        session,
        run,
        "run_expired",
        now,
        step_id=task.step_id,
        metadata={**details, "error": error},
        trace_events=[event],
    )
    record_audit(
        session, "human.expired", actor=None, run_id=run.id, continuation_id=task.id, metadata=metadata, now=now
    )
    return Outcome("expired", Transition(settled_run_id=run.id))


def _escalate(session: Session, run: Run, task: HumanTask, now: datetime, metadata: dict[str, Any]) -> Outcome:
    original = task.expires_at
    previous = task.assignee
    assignee = task.request.get("escalation_assignee") or previous
    task.escalated_at = now
    task.original_expires_at = original
    task.expires_at = escalation_expiry(task.request, now)
    task.assignee = assignee
    task.updated_at = now
    task.request = escalated_request(task.request, now, original, assignee)
    metadata = {**metadata, "previous_assignee": previous, "escalated_expires_at": epoch(task.expires_at)}
    if run.continuation_id == task.id:
        run.pending_human_request = task.request
    run.updated_at = now
    add_trace_event(
        session,
        run,
        "human_task_escalated",
        now,
        metadata={**metadata, "continuation_id": task.id, "assignee": task.assignee},
        step_id=task.step_id,
    )
    record_audit(
        session,
        "human.escalated",
        actor=None,
        run_id=run.id,
        continuation_id=task.id,
        metadata={**metadata, "assignee": task.assignee},
        now=now,
    )
    return Outcome("escalated")


def _auto_continue(
    session: Session, run: Run, task: HumanTask, now: datetime, default_timeout: int, metadata: dict[str, Any]
) -> Outcome:
    """Audit ``human.continued``, then resume approved through the normal locked resume path.

    The resume runs in a savepoint: when it raises, its writes are undone, the task is closed
    and the run fails with the reason (a blocked run without an open task would be stranded).
    """
    record_audit(
        session, "human.continued", actor=None, run_id=run.id, continuation_id=task.id, metadata=metadata, now=now
    )
    resume = Resume(
        request_id=task.request_id,
        decision="approved",
        metadata={"auto_continued": True, "reason": "timeout", "original_assignee": task.assignee},
    )
    try:
        with session.begin_nested():
            _, transition = resume_task(session, task.id, resume, None, now, default_timeout)
    except Exception as exc:  # any failure of the resume is recorded, not raised
        return _continue_failed(session, run, task, now, exc)
    return Outcome("continued", transition)


def _continue_failed(session: Session, run: Run, task: HumanTask, now: datetime, exc: Exception) -> Outcome:
    failure = {"error_type": type(exc).__name__, "error_message": str(exc), "on_timeout": "continue"}
    error = {"message": f"Automatic continuation after the human-task timeout failed: {exc}", "type": CONTINUE_FAILED}
    _close_task(task, "expired", now)
    _end_run(session, run, RunStatus.FAILED, error, now)
    _cancel_claimable_steps(session, run.id, now)
    add_checkpoint(session, run, "run_failed", now, step_id=task.step_id, metadata={"error": error, **failure})
    record_audit(
        session, "human.continue_failed", actor=None, run_id=run.id, continuation_id=task.id, metadata=failure, now=now
    )
    return Outcome("continue_failed", Transition(settled_run_id=run.id))


# ----------------------------------------------------------------------------- run deadlines


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
    run: Run | None = _locked(
        session,
        select(Run).where(Run.id == run_id, Run.status.in_(DEADLINE_STATUSES), Run.deadline_at <= now),
    )
    if run is None or run.deadline_at is None:
        return None
    pending = select(HumanTask).where(HumanTask.run_id == run.id, HumanTask.status == "pending")
    tasks = list(session.execute(_lockable(session, pending)).scalars())
    if len(tasks) != len(session.execute(pending.with_only_columns(HumanTask.id)).all()):
        return None  # a resume holds the task: it fails on the run lock, or wins; next pass decides
    status_at_timeout = run.status
    timeout = run_timeout_seconds(run.run_metadata or {}, run.started_at or run.created_at, run.deadline_at)
    message = deadline_message(timeout)
    _end_run(session, run, RunStatus.TIMED_OUT, {"message": message, "type": "run_timed_out"}, now)
    _cancel_claimable_steps(session, run.id, now)
    for task in tasks:
        _close_task(task, "timed_out", now)
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
