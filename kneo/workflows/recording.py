"""Checkpoints and trace events appended under the run's row lock (written as multi-row inserts
when the transaction next executes a statement or commits, see :mod:`kneo.writes`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kneo.db import isoformat
from kneo.models import Checkpoint, Run, TraceEvent, new_id
from kneo.redaction import redact, redact_text
from kneo.workflows.serialize import run_state
from kneo.writes import add_row, amend_row

PREVIEW_CHARS = 500
CHECKPOINTS = Checkpoint.metadata.tables["checkpoints"]
TRACE_EVENTS = TraceEvent.metadata.tables["trace_events"]


def preview(text: str | None) -> str | None:
    """A redacted preview of at most 500 characters."""
    if text is None:
        return None
    text = redact_text(text)
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "...[truncated]"


def snapshot(run: Run) -> dict[str, Any]:
    """The run state kept in a checkpoint. The inline spec and the accumulated messages stay on
    the run (a checkpoint records how many of the run's messages it covers; they are only ever
    appended), and the trace is not repeated in every snapshot: a checkpoint's own events are in
    its ``trace_events``."""
    state = run_state(run, with_spec=False)
    del state["messages"]
    state["trace_events"] = []
    state["metadata"].pop("trace", None)
    return state


def add_checkpoint(
    session: Session,
    run: Run,
    type_: str,
    now: datetime,
    *,
    step_id: str | None = None,
    node_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    trace_events: list[dict[str, Any]] | None = None,
    iteration: int = 1,
) -> dict[str, Any]:
    """Append a checkpoint with a redacted snapshot of the run (sequence allocated on the run row);
    returns its row (see :func:`attach_trace_events`)."""
    run.checkpoint_count = (run.checkpoint_count or 0) + 1
    row = {
        "id": new_id(),
        "run_id": run.id,
        "sequence": run.checkpoint_count,
        "type": type_,
        "workflow_name": run.workflow_name,
        "step_id": step_id,
        "node_id": node_id,
        "iteration": iteration,
        "state": redact(snapshot(run)),
        "message_count": len(run.messages or []),
        "trace_events": trace_events or [],
        "metadata": redact(dict(metadata or {})),
        "created_at": now,
    }
    return add_row(session, CHECKPOINTS, row)


def attach_trace_events(session: Session, checkpoint: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Give a checkpoint row from :func:`add_checkpoint` these trace events (already redacted)."""
    amend_row(session, CHECKPOINTS, checkpoint, trace_events=events)


def add_trace_event(
    session: Session,
    run: Run,
    type_: str,
    now: datetime,
    *,
    metadata: Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Append one redacted trace event (contract §8.9) and return its dict."""
    run.trace_event_count = (run.trace_event_count or 0) + 1
    event_id = new_id()
    data = {
        "type": type_,
        "run_id": run.id,
        "event_id": event_id,
        "timestamp": isoformat(now),
        "parent_event_id": None,
        "span_id": None,
        "parent_span_id": None,
        "agent_name": fields.get("agent_name"),
        "workflow_name": fields.get("workflow_name", run.workflow_name),
        "step_id": fields.get("step_id"),
        "runtime_mode": fields.get("runtime_mode"),
        "model_provider": fields.get("model_provider"),
        "model_name": fields.get("model_name"),
        "tool_name": fields.get("tool_name"),
        "guardrail_id": fields.get("guardrail_id"),
        "memory_policy": fields.get("memory_policy"),
        "input_preview": preview(fields.get("input_text")),
        "output_preview": preview(fields.get("output_text")),
        "metadata": redact(dict(metadata or {})),
        "error": redact_text(fields["error"]) if fields.get("error") else None,
    }
    row = {"id": event_id, "run_id": run.id, "sequence": run.trace_event_count, "type": type_, "timestamp": now}
    add_row(session, TRACE_EVENTS, {**row, "data": data})
    return data
