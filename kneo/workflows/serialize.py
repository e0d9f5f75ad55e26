"""Serialisation into the contract's JSON: runs, checkpoints, trace events, human tasks as dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kneo.db import epoch, isoformat
from kneo.models import Checkpoint, HumanTask, Run, TraceEvent
from kneo.redaction import IDENTITY_KEYS, already_redacted, redact


def spec_fields(spec: dict[str, Any] | None, overlays: list[Any]) -> dict[str, Any]:
    """The spec a run was created from, as 0.4 (``spec``) and 1.2 (``frozen_spec``) show it
    (redacted once for both places)."""
    shown = already_redacted(redact(spec))
    return {"spec": shown, "frozen_spec": already_redacted({"base": shown, "overlays": redact(list(overlays))})}


def settled_trace(metadata: dict[str, Any]) -> dict[str, Any]:
    """The trace settled with the run (stored redacted), marked so responses do not redact it again."""
    trace = metadata.get("trace") or {}
    return already_redacted({**trace, "events": already_redacted(trace.get("events") or [])})


def run_metadata(run: Run, with_spec: bool = True) -> dict[str, Any]:
    """The run's metadata with the 1.2 creation keys; the inline spec is kept in its own column
    and shown here (checkpoint snapshots leave it out: their view adds it back)."""
    metadata = dict(run.run_metadata or {})
    metadata.setdefault("overlays", [])
    metadata.setdefault("skills_overlay", None)
    metadata.setdefault("caller_metadata", metadata.get("request_metadata") or {})
    if "trace" in metadata:
        metadata["trace"] = settled_trace(metadata)
    if with_spec:
        metadata.update(spec_fields(run.spec, metadata["overlays"]))
    return metadata


def _run_fields(run: Run, with_spec: bool) -> dict[str, Any]:
    """The fields a RunState and a RunStatusResponse share."""
    return {
        "status": run.status,
        "agent_name": run.agent_name,
        "workflow_name": run.workflow_name,
        "workflow_kind": run.workflow_kind,
        "input_text": run.input_text,
        "output_text": run.output_text,
        "current_step_index": run.current_step_index,
        "current_node_id": run.current_node_id,
        "visited_steps": list(run.visited_steps or []),
        "visited_nodes": list(run.visited_nodes or []),
        "pending_human_request": run.pending_human_request,
        "continuation_id": run.continuation_id,
        "metadata": run_metadata(run, with_spec),
        "error": run.error,
        "session_id": run.session_id,
        "usage": None,
    }


def run_state(run: Run, with_spec: bool = True) -> dict[str, Any]:
    """The stored RunState shape (contract §8.1); its trace events are those settled with the run."""
    trace = settled_trace(run.run_metadata or {})
    return {
        "id": run.id,
        **_run_fields(run, with_spec),
        "current_step_id": run.current_step_id,
        "messages": list(run.messages or []),
        "trace_events": trace["events"],
        "trace_dropped": int(trace.get("dropped") or 0),
        "trace_event_count": run.trace_event_count,
        "parent_run_id": None,
        "tags": [],
        "created_at": isoformat(run.created_at),
        "updated_at": isoformat(run.updated_at),
        "started_at": isoformat(run.started_at),
        "completed_at": isoformat(run.completed_at),
        "deadline_at": epoch(run.deadline_at),
    }


def run_status_view(run: Run) -> dict[str, Any]:
    """The RunStatusResponse shape (contract §1.6)."""
    return {"run_id": run.id, **_run_fields(run, with_spec=True), "trace_event_count": run.trace_event_count}


def checkpoint_summary(cp: Checkpoint) -> dict[str, Any]:
    return {
        "id": cp.id,
        "sequence": cp.sequence,
        "type": cp.type,
        "created_at": isoformat(cp.created_at),
        "workflow_name": cp.workflow_name,
        "step_id": cp.step_id,
        "node_id": cp.node_id,
    }


def redacted_messages(run: Run) -> list[Any]:
    """The run's accumulated messages as checkpoints show them."""
    return redact(list(run.messages or []))


def checkpoint_state(cp: Checkpoint, run_messages: Sequence[Any]) -> dict[str, Any]:
    """The checkpoint's snapshot with the run's first ``message_count`` messages put back."""
    state = dict(cp.state or {})
    if cp.message_count is not None:
        state["messages"] = list(run_messages[: cp.message_count])
    return state


def checkpoint_view(
    cp: Checkpoint, run_spec: dict[str, Any] | None = None, run_messages: Sequence[Any] = ()
) -> dict[str, Any]:
    """The Checkpoint record shape (contract §8.5). Snapshots repeat neither the run's spec nor its
    messages: ``run_spec`` is :func:`spec_fields` of the run's spec, ``run_messages`` are
    :func:`redacted_messages` of the run."""
    state = checkpoint_state(cp, run_messages)
    state["metadata"] = {**(state.get("metadata") or {}), **(run_spec or spec_fields(None, []))}
    state.setdefault("trace_events", [])
    state.setdefault("trace_dropped", 0)
    return {
        **checkpoint_summary(cp),
        "run_id": cp.run_id,
        "iteration": cp.iteration,
        "state": state,
        "trace_events": cp.trace_events,
        "metadata": cp.checkpoint_metadata,
    }


def trace_event_view(event: TraceEvent) -> dict[str, Any]:
    return dict(event.data)


def reviewer_view(payload: Any) -> Any:
    """Redacted for a reviewer: secrets and PII go, the assignee identities stay readable."""
    return redact(payload, keep=IDENTITY_KEYS)


def human_task_view(task: HumanTask) -> dict[str, Any]:
    """The continuation record shape (contract §9.2) plus the task's resolution."""
    context = task.context or {}
    return {
        "id": task.id,
        "run_id": task.run_id,
        "status": task.status,
        "workflow_name": task.workflow_name,
        "workflow_kind": task.workflow_kind,
        "current_step_index": task.current_step_index,
        "current_node_id": task.current_node_id,
        "current_input": task.current_input,
        "visited_steps": list(context.get("visited_steps") or []),
        "visited_nodes": list(context.get("visited_nodes") or []),
        "messages": list(context.get("messages") or []),
        "variables": dict(context.get("variables") or {}),
        "trace_events": already_redacted(list(context.get("trace_events") or [])),
        "pending_human_request_id": task.request_id,
        "pending_human_request": task.request,
        "expires_at": epoch(task.expires_at),
        "escalated_at": epoch(task.escalated_at),
        "original_expires_at": epoch(task.original_expires_at),
        "assignee": task.assignee,
        "decision": task.decision,
        "reviewer": task.reviewer,
        "decision_metadata": task.decision_metadata,
        "resolved_at": isoformat(task.resolved_at),
        "metadata": {"step_id": task.step_id},
        "created_at": isoformat(task.created_at),
        "updated_at": isoformat(task.updated_at),
    }
