"""Human-task expiry (spec-format §7.4): ``on_timeout`` fail, continue or escalate."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kneo.audit.record import record_audit
from kneo.db import epoch
from kneo.models import HumanTask, Run, RunStatus
from kneo.workflows.human import Resume, resume_task
from kneo.workflows.recording import add_checkpoint, add_trace_event
from kneo.workflows.sweeps.common import (
    BATCH,
    Outcome,
    cancel_claimable_steps,
    close_task,
    end_run,
    locked,
    positive_seconds,
)
from kneo.workflows.transitions import Transition

TIMEOUT_POLICIES = ("fail", "continue", "escalate")
CONTINUE_FAILED = "human_continue_failed"


def timeout_policy(value: object) -> str:
    """The effective ``on_timeout``: unknown or missing values behave as ``fail`` (contract §9.5)."""
    return value if isinstance(value, str) and value in TIMEOUT_POLICIES else "fail"


def expiry_message(timeout_seconds: object) -> str:
    """The run error message of an expired human task."""
    seconds = positive_seconds(timeout_seconds)
    if seconds is None:
        return "Human task did not complete before its deadline."
    return f"Human task did not complete within {seconds}s timeout."


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
    seconds = positive_seconds(request.get("escalation_timeout_seconds") or request.get("timeout_seconds"))
    return now + timedelta(seconds=float(seconds)) if seconds is not None else None


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
    run: Run | None = locked(session, select(Run).where(Run.id == run_id))
    if run is None:
        return None
    task: HumanTask | None = locked(
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
    close_task(task, "closed", now)
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
    close_task(task, "expired", now)
    end_run(session, run, RunStatus.EXPIRED, error, now)
    cancel_claimable_steps(session, run.id, now)
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
    close_task(task, "expired", now)
    end_run(session, run, RunStatus.FAILED, error, now)
    cancel_claimable_steps(session, run.id, now)
    add_checkpoint(session, run, "run_failed", now, step_id=task.step_id, metadata={"error": error, **failure})
    record_audit(
        session, "human.continue_failed", actor=None, run_id=run.id, continuation_id=task.id, metadata=failure, now=now
    )
    return Outcome("continue_failed", Transition(settled_run_id=run.id))
