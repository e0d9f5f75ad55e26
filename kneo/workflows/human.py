"""Human-task use cases: resume a paused step exactly once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kneo.audit.record import record_audit
from kneo.db import is_sqlite
from kneo.errors import Conflict, NotFound, Unprocessable
from kneo.models import HumanTask, RunStatus
from kneo.observability.spans import continuation_lock_span
from kneo.workflows import engine, results
from kneo.workflows.recording import add_checkpoint
from kneo.workflows.transitions import Transition, apply_decision, lock_run


@dataclass(frozen=True)
class Resume:
    """A reviewer's decision."""

    request_id: str
    decision: str
    content: str | None = None
    selected_option: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


def decision_text(resume: Resume, current_input: str) -> str:
    """The text the next step receives (spec-format §7.3)."""
    if resume.decision == "rejected":
        return f"Rejected by human reviewer: {resume.content or ''}"
    if resume.decision == "selected":
        return resume.selected_option or resume.content or current_input
    if resume.decision in ("edited", "provided"):
        return resume.content or current_input
    return current_input


@continuation_lock_span
def lock_task(session: Session, task_id: str) -> HumanTask:
    """Lock the task row without waiting; a concurrent resume gets 409 ``resource_locked``."""
    stmt = select(HumanTask).where(HumanTask.id == task_id)
    if not is_sqlite(session):
        stmt = stmt.with_for_update(nowait=True)
    try:
        task = session.execute(stmt).scalar_one_or_none()
    except OperationalError as exc:
        if "could not obtain lock" in str(exc) or "lock" in str(exc.orig).lower():
            raise Conflict(
                f"Resource is already locked: continuation:{task_id}",
                code="resource_locked",
                resource=f"continuation:{task_id}",
            ) from None
        raise
    if task is None:
        raise NotFound(f"'Unknown continuation: {task_id}'", code="KeyError")
    return task


DECISIONS_BY_TYPE: dict[str, frozenset[str]] = {
    "approval": frozenset({"approved", "rejected"}),
    "review": frozenset({"approved", "rejected", "edited"}),
    "correction": frozenset({"approved", "rejected", "edited"}),
    "selection": frozenset({"selected"}),
    "freeform": frozenset({"provided"}),
}


def allowed_decisions(request: Mapping[str, Any]) -> frozenset[str]:
    """The decisions a request accepts; an approval accepts an edit only when it says ``allow_edit``."""
    kind = str(request.get("type") or "approval")
    allowed = DECISIONS_BY_TYPE.get(kind, DECISIONS_BY_TYPE["approval"])
    if kind == "approval" and request.get("allow_edit"):
        allowed |= {"edited"}
    return allowed


def check_decision_fits(request: Mapping[str, Any], resume: Resume) -> None:
    """422 unless the decision (and its option) makes sense for this request type."""
    allowed = allowed_decisions(request)
    kind = request.get("type") or "approval"
    if resume.decision not in allowed:
        raise Unprocessable(
            f"A {kind} request accepts {', '.join(sorted(allowed))}, not {resume.decision!r}.",
            code="decision_not_allowed",
            request_type=kind,
            allowed_decisions=sorted(allowed),
        )
    if resume.decision != "selected":
        if resume.selected_option is not None:
            raise Unprocessable(
                "selected_option is only accepted with a 'selected' decision.", code="option_not_allowed"
            )
        return
    options = list(request.get("options") or [])
    if resume.selected_option not in options:
        raise Unprocessable(f"selected_option must be one of {options}.", code="unknown_option", options=options)


def _validate(task: HumanTask, resume: Resume, run_status: str) -> None:
    if task.status != "pending":
        raise Conflict(
            f"Human task {task.id} is already {task.status}.", code="human_task_resolved", status=task.status
        )
    if run_status != RunStatus.BLOCKED:
        raise Conflict(f"Run {task.run_id} is {run_status}, not blocked.", code="run_not_blocked", status=run_status)
    if resume.request_id != task.request_id:
        raise Unprocessable("request_id does not match the pending request.", code="request_id_mismatch")
    check_decision_fits(task.request, resume)


def resume_task(
    session: Session, task_id: str, resume: Resume, actor: str | None, now: datetime, default_timeout: int
) -> tuple[HumanTask, Transition]:
    """Record the decision and continue the run from the paused step."""
    task = lock_task(session, task_id)
    run = lock_run(session, task.run_id)
    _validate(task, resume, run.status)
    text = decision_text(resume, task.current_input or "")
    task.status = "resolved"
    task.decision = resume.decision
    task.decision_content = resume.content
    task.selected_option = resume.selected_option
    task.reviewer = actor
    task.decision_metadata = dict(resume.metadata)
    task.resolved_at = now
    task.updated_at = now
    run.status = RunStatus.RUNNING
    run.pending_human_request = None
    run.run_metadata = results.without_result(run.run_metadata or {})
    resolution = {
        "continuation_id": task.id,
        "request_id": task.request_id,
        "decision": resume.decision,
        "reviewer": actor,
        "selected_option": resume.selected_option,
        "has_content": resume.content is not None,
        "reviewer_metadata": dict(resume.metadata),
    }
    add_checkpoint(
        session, run, "human_resume", now, step_id=task.step_id, node_id=task.current_node_id, metadata=resolution
    )
    decision = engine.human_resolved(
        run.plan, run.engine_state, task.step_id, int(task.current_step_index or 0), text, resume.decision
    )
    run.output_text = text
    transition = apply_decision(session, run, decision, now, default_timeout=default_timeout, actor=actor)
    record_audit(
        session,
        "human.decision",
        actor=actor,
        run_id=run.id,
        continuation_id=task.id,
        metadata={
            "request_id": resume.request_id,
            "decision": resume.decision,
            "has_content": resume.content is not None,
            "selected_option": resume.selected_option,
            "metadata": dict(resume.metadata),
            "status": run.status,
        },
        now=now,
    )
    return task, transition
