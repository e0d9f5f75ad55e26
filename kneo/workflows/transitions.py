"""Persist an engine decision: step rows, run status, human task, checkpoints, trace, audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kneo.audit.record import record_audit
from kneo.db import is_sqlite
from kneo.errors import NotFound
from kneo.models import HumanTask, Run, RunStatus, StepRun, StepStatus, new_id
from kneo.workflows import documents, engine, results
from kneo.workflows.recording import add_checkpoint, add_trace_event
from kneo.writes import add_row

DEFAULT_TIMEOUT_SECONDS = 300
STEP_RUNS = StepRun.metadata.tables["step_runs"]


@dataclass(frozen=True)
class Dispatch:
    """A step message to send after commit."""

    step_run_id: str
    countdown: float = 0.0
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class NewStep:
    """A step row a transition queued (written with the transition's other rows)."""

    row: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.row["id"])

    @property
    def run_id(self) -> str:
        return str(self.row["run_id"])


@dataclass
class Transition:
    """What a committed transition asks the shell to do next."""

    dispatches: list[Dispatch] = field(default_factory=list)
    settled_run_id: str | None = None
    new_steps: list[NewStep] = field(default_factory=list)
    unattached_events: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: Transition) -> Transition:
        self.dispatches.extend(other.dispatches)
        self.settled_run_id = other.settled_run_id or self.settled_run_id
        return self


def lock_run(session: Session, run_id: str) -> Run:
    """Load a run holding its row lock for the rest of the transaction."""
    # populate_existing: a session that loaded the run in an earlier transaction (inline chaining)
    # must see what sibling steps committed since, or it would overwrite their engine state.
    stmt = select(Run).where(Run.id == run_id).execution_options(populate_existing=True)
    if not is_sqlite(session):
        stmt = stmt.with_for_update()
    run = session.execute(stmt).scalar_one_or_none()
    if run is None:
        raise NotFound(f"'Unknown run_id: {run_id}'", code="KeyError")
    return run


def apply_decision(
    session: Session,
    run: Run,
    decision: engine.Decision,
    now: datetime,
    *,
    default_timeout: int = DEFAULT_TIMEOUT_SECONDS,
    actor: str | None = None,
    trace_events: list[dict[str, Any]] | None = None,
    plan: dict[str, Any] | None = None,
) -> Transition:
    """Write ``decision`` for ``run`` into the session; the caller commits then dispatches.

    ``trace_events`` (the settled unit's events) and the decision's own events are attached to the
    first checkpoint the decision writes (else returned as ``unattached_events``); ``plan`` is the
    run's plan when the caller holds it (else it is loaded from the run).
    """
    transition = Transition()
    run.engine_state = decision.state
    run.updated_at = now
    _sync_position(run, decision)
    pending = list(trace_events or [])
    for event_type, metadata in decision.events:
        fields = {"workflow_name": metadata["workflow_name"]} if metadata.get("workflow_name") else {}
        pending.append(add_trace_event(session, run, event_type, now, metadata=metadata, **fields))
    for completion in decision.completions:
        results.record_progress(run, completion)
        add_checkpoint(
            session,
            run,
            completion["type"],
            now,
            step_id=completion.get("step_id"),
            node_id=completion.get("node_id"),
            metadata=completion["metadata"],
            trace_events=pending,
            iteration=int(completion.get("iteration") or 1),
        )
        pending = []
    for unit in decision.queue:
        row = add_row(session, STEP_RUNS, _step_row(run, unit, now, default_timeout))
        transition.new_steps.append(NewStep(row))
        if engine.is_root_unit(unit):
            run.current_step_index = unit.position
        transition.dispatches.append(Dispatch(row["id"], 0.0, row["timeout_seconds"]))
    if decision.human is not None or decision.status in (RunStatus.COMPLETED, RunStatus.FAILED):
        with session.no_autoflush:  # the settle reads; the run row is written once, at commit
            pending = _settle(session, run, decision, now, actor, plan or run.plan, pending)
    transition.unattached_events = pending
    if run.status in RunStatus.SETTLED:
        transition.settled_run_id = run.id
    return transition


def _settle(
    session: Session,
    run: Run,
    decision: engine.Decision,
    now: datetime,
    actor: str | None,
    plan: dict[str, Any],
    pending: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Open the decision's human task and/or end the run; returns the events still unattached."""
    if decision.human is not None:
        _open_human_task(session, run, decision.human, now, plan, pending)
        pending = []
    if decision.status == RunStatus.COMPLETED:
        _finish(session, run, now, decision.output_text, actor, plan, pending)
        pending = []
    elif decision.status == RunStatus.FAILED:
        error = decision.error or {"message": "run failed", "type": "error"}
        _fail(session, run, now, error, actor, plan, pending)
        pending = []
    return pending


def _sync_position(run: Run, decision: engine.Decision) -> None:
    """Mirror the engine's root visited lists and current step/node onto the run row."""
    state = decision.state
    if state.get("mode") == "agent" or state.get("opaque"):
        return
    run.visited_steps = list(state.get("visited") or [])
    run.visited_nodes = list(state.get("visited_nodes") or [])
    if decision.visited:
        run.current_step_id = decision.visited[-1]
    if state.get("current_node"):
        run.current_node_id = state["current_node"]


def _step_row(run: Run, unit: engine.Unit, now: datetime, default_timeout: int) -> dict[str, Any]:
    return {
        "id": new_id(),
        "run_id": run.id,
        "ordinal": unit.position,
        "step_id": unit.step_id,
        "kind": unit.kind,
        "ref": unit.ref,
        "workflow_key": unit.workflow_key,
        "status": StepStatus.QUEUED,
        "attempt": 0,
        "max_attempts": unit.max_attempts,
        "timeout_seconds": int(unit.timeout_seconds or default_timeout),
        "input_text": unit.input_text,
        "output_text": None,
        "unit": {"position": unit.position, "extra": dict(unit.extra)},
        "worker_id": None,
        "available_at": now,
        "dispatched_at": now,
        "lease_expires_at": None,
        "started_at": None,
        "finished_at": None,
        "created_at": now,
        "updated_at": now,
    }


def human_request(plan: dict[str, Any], pause: engine.HumanPause, task_id: str) -> dict[str, Any]:
    """The pending human request of contract §9.3 (with the 1.x request taxonomy)."""
    human = dict(plan.get("humans", {}).get(pause.ref) or {})
    description = human.get("description")
    timeout = human.get("timeout_seconds")
    return {
        "id": new_id(),
        "type": human.get("request_type") or "approval",
        "request_type": human.get("request_type") or "approval",
        "title": human.get("title") or description or "Human review required",
        "prompt": human.get("prompt") or description or "Please review this item.",
        "context": {"input_text": pause.input_text},
        "options": human.get("options"),
        "allow_edit": bool(human.get("allow_edit")),
        "default_option": human.get("default_option"),
        "response_role": human.get("response_role"),
        "requested_by": pause.step_id,
        "assignee": human.get("assignee"),
        "escalation_assignee": human.get("escalation_assignee"),
        "escalation_timeout_seconds": human.get("escalation_timeout_seconds"),
        "timeout_seconds": timeout,
        "on_timeout": human.get("on_timeout") or "fail",
        "metadata": {"continuation_id": task_id, "step_id": pause.step_id},
    }


def _open_human_task(
    session: Session,
    run: Run,
    pause: engine.HumanPause,
    now: datetime,
    plan: dict[str, Any],
    events: list[dict[str, Any]],
) -> HumanTask:
    task_id = new_id()
    request = human_request(plan, pause, task_id)
    timeout = request.get("timeout_seconds")
    expires_at = now + timedelta(seconds=float(timeout)) if timeout and float(timeout) > 0 else None
    task = HumanTask(
        id=task_id,
        run_id=run.id,
        status="pending",
        workflow_name=run.workflow_name,
        workflow_kind=plan.get("workflows", {}).get(pause.workflow_key or "", {}).get("type"),
        step_id=pause.step_id,
        current_step_index=pause.position,
        current_node_id=pause.node_id,
        current_input=pause.input_text,
        request=request,
        request_id=request["id"],
        assignee=request.get("assignee"),
        on_timeout=request["on_timeout"],
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    run.status = RunStatus.BLOCKED
    run.output_text = "Human intervention required."
    run.pending_human_request = request
    run.continuation_id = task_id
    run.current_step_id = pause.step_id
    run.current_step_index = pause.position
    if pause.node_id:
        run.current_node_id = pause.node_id
    metadata = {"continuation_id": task_id, "request": request}
    event = add_trace_event(session, run, "human_intervention_requested", now, metadata=metadata, step_id=pause.step_id)
    trace = results.settle(session, run, plan, now)
    task.context = task_context(run, pause, trace["events"])
    session.add(task)  # after the settle's query, so the task is inserted once, with its context
    add_checkpoint(
        session,
        run,
        "human_pause",
        now,
        step_id=pause.step_id,
        node_id=pause.node_id,
        metadata=metadata,
        trace_events=[*events, event],
    )
    documents.store_documents(run)
    return task


def task_context(run: Run, pause: engine.HumanPause, events: list[dict[str, Any]]) -> dict[str, Any]:
    """What the reviewer sees besides the request (contract §9.2): the conversation so far (the
    step's input as a user message when no step has spoken yet), variables, visits and the trace."""
    first = {"role": "user", "content": pause.input_text, "name": None, "tool_call_id": None}
    messages = list(run.messages or []) or [{**first, "metadata": {"tool_calls": []}}]
    return {
        "messages": messages,
        "variables": dict(run.variables or {}),
        "visited_steps": list(run.visited_steps or []),
        "visited_nodes": list(run.visited_nodes or []),
        "trace_events": events,
    }


def _finish(
    session: Session,
    run: Run,
    now: datetime,
    output: str | None,
    actor: str | None,
    plan: dict[str, Any],
    events: list[dict[str, Any]],
) -> None:
    run.status = RunStatus.COMPLETED
    run.output_text = output
    run.completed_at = now
    run.pending_human_request = None
    run.current_step_index = None
    results.settle(session, run, plan, now)
    add_checkpoint(session, run, "run_completed", now, metadata={"output_text": output}, trace_events=events)
    record_audit(session, "run.completed", actor=actor, run_id=run.id, metadata={"status": run.status}, now=now)
    documents.store_documents(run)


def _fail(
    session: Session,
    run: Run,
    now: datetime,
    error: dict[str, Any],
    actor: str | None,
    plan: dict[str, Any],
    events: list[dict[str, Any]],
) -> None:
    run.status = RunStatus.FAILED
    run.error = error
    run.completed_at = now
    results.settle(session, run, plan, now)
    add_checkpoint(session, run, "run_failed", now, metadata={"error": error}, trace_events=events)
    record_audit(session, "run.failed", actor=actor, run_id=run.id, metadata={"error": error}, now=now)
    documents.store_documents(run)
