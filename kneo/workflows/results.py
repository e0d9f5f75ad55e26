"""Run metadata settled with the run: what a completed, failed, cancelled or blocked run reports.

The contract's run-result metadata (§1.3: ``sdk``, ``iterations``, ``duration_ms``, ``trace``,
the workflow summary, the agent runtime, the pending human request) is derived once, in the
transaction that settles the run, and stored in the run's metadata, so reading a run never
rebuilds it. Per-step progress (``execution_context``, ``step_iteration_counts``) is written at
every root step completion, before its checkpoint, so each checkpoint's state carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kneo.models import Run, RunStatus, TraceEvent
from kneo.redaction import redact

SDK = "kneo"
AGENT_END_EVENTS = ("run_completed", "run_failed", "run_stopped")
TRACE_LIMIT = 1000
BLOCKED_KEYS = ("human_intervention_required", "continuation_id", "request", "pending_step_id")
RESULT_KEYS = (
    "sdk",
    "iterations",
    "duration_ms",
    "trace",
    "runtime_mode",
    "runtime_name",
    "agent_name",
    "plan",
    "workflow",
    "workflow_description",
    "workflow_type",
    "workflow_steps",
    "variables",
    "stopped_by_max_iterations",
    "error",
    *BLOCKED_KEYS,
)


def load_trace(session: Session, run: Run) -> dict[str, Any]:
    """The run's trace as the contract's ``{run_id, events[]}`` (the first TRACE_LIMIT events)."""
    stmt = select(TraceEvent.data).where(TraceEvent.run_id == run.id).order_by(TraceEvent.sequence).limit(TRACE_LIMIT)
    events = list(session.execute(stmt).scalars())
    return {"run_id": run.id, "events": events, "dropped": max((run.trace_event_count or 0) - len(events), 0)}


def runtime_name(agent: Mapping[str, Any]) -> str:
    """``<strategy>@<provider>`` of an agent (``simple@dummy`` for an agent without a model)."""
    strategy = agent.get("strategy") or "simple"
    if isinstance(strategy, Mapping):
        strategy = strategy.get("type") or "simple"
    provider = (agent.get("model") or {}).get("provider") or "dummy"
    return f"{strategy}@{provider}"


def _workflow_steps(workflow: Mapping[str, Any]) -> list[str]:
    """Step, node or participant ids in declaration order."""
    if workflow["type"] == "graph":
        return list(workflow.get("node_order") or workflow.get("nodes") or [])
    return [s["id"] for s in workflow.get("steps") or workflow.get("participants") or []]


def _workflow_summary(run: Run, workflow: Mapping[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {"name": workflow["name"], "type": workflow["type"]}
    if workflow["type"] == "graph":
        summary["visited_nodes"] = list(run.visited_nodes or [])
        summary["termination"] = (run.engine_state or {}).get("termination")
    else:
        summary["visited_steps"] = list(run.visited_steps or [])
    if run.status == RunStatus.BLOCKED:
        summary["pending_step_id"] = run.current_step_id
    return summary


def _stopped_by_max_iterations(run: Run, workflow: Mapping[str, Any]) -> bool:
    """True when a completed handoff ended because ``max_iterations`` cut its turns short."""
    cap = workflow.get("max_iterations")
    if cap is None or run.status != RunStatus.COMPLETED or len(run.visited_steps or []) < int(cap):
        return False
    selector = workflow.get("selector") or {}
    if selector.get("type") == "round_robin":
        return True
    ids = {p["id"] for p in workflow.get("participants") or []}
    sequence = [i for i in selector.get("sequence") or ids if i in ids]
    return len(sequence) > int(cap)


def _agent_runtime(run: Run, agent: Mapping[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Runtime fields of an agent run, from its agent's last settled invocation (its model calls as
    ``iterations``; ``plan`` when the strategy planned first)."""
    ended = [e for e in events if e.get("type") in AGENT_END_EVENTS and e.get("agent_name") == run.agent_name]
    last = ended[-1] if ended else {}
    fields = {
        "runtime_mode": last.get("runtime_mode") or "bridge",
        "runtime_name": runtime_name(agent),
        "agent_name": run.agent_name,
    }
    details = last.get("metadata") or {}
    if details.get("iterations"):
        fields["iterations"] = int(details["iterations"])
    if details.get("plan") is not None:
        fields["plan"] = details["plan"]
    return fields


def result_metadata(
    run: Run, plan: Mapping[str, Any], trace: Mapping[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """The run-result metadata of ``run`` as it stands (pure; ``trace`` from :func:`load_trace`)."""
    started = run.started_at or run.created_at
    finished = run.completed_at or now
    counts = (run.run_metadata or {}).get("step_iteration_counts") or {}
    metadata: dict[str, Any] = {
        "sdk": SDK,
        "iterations": sum(counts.values()) if counts else int(run.status == RunStatus.COMPLETED),
        "duration_ms": round((finished - started).total_seconds() * 1000, 3),
        "trace": dict(trace) if trace is not None else {"run_id": run.id, "events": [], "dropped": 0},
    }
    workflow = (plan.get("workflows") or {}).get(plan.get("root_workflow") or "")
    if workflow and run.workflow_kind == "workflow":
        metadata.update(
            workflow=_workflow_summary(run, workflow),
            workflow_description=workflow.get("description") or "",
            workflow_type=workflow["type"],
            workflow_steps=_workflow_steps(workflow),
            variables=dict(run.variables or (run.engine_state or {}).get("variables") or {}),
        )
        if workflow["type"] == "handoff":
            metadata["stopped_by_max_iterations"] = _stopped_by_max_iterations(run, workflow)
    else:
        agent = (plan.get("agents") or {}).get(plan.get("root_agent") or "") or {}
        metadata.update(_agent_runtime(run, agent, metadata["trace"]["events"]))
    if run.error:
        metadata["error"] = {"type": run.error.get("type"), "message": run.error.get("message")}
    if run.status == RunStatus.BLOCKED:
        metadata.update(
            human_intervention_required=True,
            continuation_id=run.continuation_id,
            request=run.pending_human_request,
            pending_step_id=run.current_step_id,
        )
    return metadata


def without_result(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` without the keys a settle writes (a resumed or continued run runs again)."""
    return {k: v for k, v in metadata.items() if k not in RESULT_KEYS}


def settle(session: Session, run: Run, plan: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Store the run-result metadata on ``run`` (one query: its trace, stored redacted so that
    reads need not redact it again); returns the trace."""
    trace: dict[str, Any] = redact(load_trace(session, run))
    base = without_result(run.run_metadata or {})
    run.run_metadata = {**base, **result_metadata(run, plan, trace, now)}
    return trace


def record_progress(run: Run, completion: Mapping[str, Any]) -> None:
    """Write a root step completion into ``execution_context`` and ``step_iteration_counts``."""
    details = completion.get("metadata") or {}
    step_id, node_id = completion.get("step_id"), completion.get("node_id")
    iteration = int(completion.get("iteration") or 1)
    metadata = dict(run.run_metadata or {})
    counts = dict(metadata.get("step_iteration_counts") or {})
    counts[f"{step_id or ''}|{node_id or ''}"] = iteration
    metadata["step_iteration_counts"] = counts
    metadata["execution_context"] = {
        "last_event_type": completion["type"],
        "current_step_id": step_id or node_id,
        "current_node_id": node_id,
        "visited_steps": list(run.visited_steps or []),
        "visited_nodes": list(run.visited_nodes or []),
        "last_input_text": details.get("input_text"),
        "last_output_text": details.get("output_text"),
        "current_iteration": iteration,
    }
    run.run_metadata = metadata
