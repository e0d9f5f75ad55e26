"""Replay, recovery and checkpoint-diff views (contract §8.6, §8.7)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kneo.errors import BadRequest
from kneo.models import Checkpoint, Run, RunStatus
from kneo.redaction import redact
from kneo.workflows import engine
from kneo.workflows.serialize import checkpoint_state, checkpoint_summary, redacted_messages

MAX_DIFF_CHANGES = 200


def _checkpoints(session: Session, run_id: str) -> list[Checkpoint]:
    stmt = select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.sequence)
    return list(session.execute(stmt).scalars())


def replay_context(session: Session, run: Run, checkpoints: list[Checkpoint] | None = None) -> dict[str, Any]:
    """Where a failed run could continue from, derived from its step checkpoints."""
    cps = checkpoints if checkpoints is not None else _checkpoints(session, run.id)
    completed = [c for c in cps if c.type == "step_completed"]
    failed = [c for c in cps if c.type == "step_failed"]
    workflow = engine.workflow_of(run.plan)
    workflow_type = workflow["type"] if workflow else None
    if completed:
        resume_input = completed[-1].checkpoint_metadata.get("output_text")
    elif failed:
        resume_input = failed[-1].checkpoint_metadata.get("input_text")
    else:
        resume_input = run.input_text
    completed_steps = [c.step_id for c in completed]
    can_continue = (
        run.status == RunStatus.FAILED
        and workflow_type == "sequential"
        and run.continuation_id is None
        and bool(completed or failed)
    )
    return {
        "run_id": run.id,
        "status": run.status,
        "workflow_type": workflow_type,
        "completed_steps": completed_steps,
        "completed_nodes": [c.node_id for c in cps if c.type == "node_completed"],
        "failed_step": failed[-1].step_id if failed else None,
        "failed_node": None,
        "next_step_index": len(completed_steps),
        "resume_input": resume_input if resume_input is not None else run.input_text,
        "checkpoint_count": len(cps),
        "can_continue": can_continue,
        "can_replay": bool(run.plan),
    }


def replay_view(session: Session, run: Run) -> dict[str, Any]:
    """The RunReplayResponse: a timeline of checkpoint summaries and the replay context."""
    cps = _checkpoints(session, run.id)
    timeline = []
    for cp in cps:
        state = cp.state or {}
        pending = state.get("pending_human_request") or {}
        timeline.append(
            {
                **checkpoint_summary(cp),
                "status": state.get("status"),
                "current_step_index": state.get("current_step_index"),
                "current_step_id": state.get("current_step_id"),
                "current_node_id": state.get("current_node_id"),
                "continuation_id": state.get("continuation_id"),
                "pending_human_request_id": pending.get("id") if isinstance(pending, dict) else None,
                "error": state.get("error"),
            }
        )
    return redact(
        {
            "run_id": run.id,
            "status": run.status,
            "workflow_name": run.workflow_name,
            "workflow_kind": run.workflow_kind,
            "agent_name": run.agent_name,
            "checkpoint_count": len(cps),
            "timeline": timeline,
            "replay_context": replay_context(session, run, cps),
        }
    )


def recovery_view(session: Session, run: Run) -> dict[str, Any]:
    """The RunRecoveryResponse, read from the run row (never lagging behind it)."""
    count = session.execute(
        select(func.count()).select_from(Checkpoint).where(Checkpoint.run_id == run.id)
    ).scalar_one()
    return redact(
        {
            "run_id": run.id,
            "status": run.status,
            "workflow_name": run.workflow_name,
            "workflow_kind": run.workflow_kind,
            "current_step_index": run.current_step_index,
            "current_node_id": run.current_node_id,
            "visited_steps": list(run.visited_steps or []),
            "visited_nodes": list(run.visited_nodes or []),
            "checkpoint_count": count,
            "pending_human_request": run.pending_human_request,
            "continuation_id": run.continuation_id,
            "error": run.error,
            "replay_context": replay_context(session, run),
        }
    )


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}[{index}]", out)
    else:
        out[prefix] = value


def checkpoint_diff(session: Session, run: Run, from_sequence: int | None, to_sequence: int | None) -> dict[str, Any]:
    """Compare ``{state, metadata}`` of two checkpoints, flattened to paths."""
    cps = {cp.sequence: cp for cp in _checkpoints(session, run.id)}
    if len(cps) < 2:
        raise BadRequest("At least two checkpoints are required for a diff.", code="ValueError")
    ordered = sorted(cps)
    start = from_sequence if from_sequence is not None else ordered[-2]
    end = to_sequence if to_sequence is not None else ordered[-1]
    for sequence in (start, end):
        if sequence not in cps:
            raise BadRequest(f"Unknown checkpoint sequence: {sequence}", code="ValueError")
    if start == end:
        raise BadRequest("Diff checkpoints must be different.", code="ValueError")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    messages = redacted_messages(run)
    for sequence, flat in ((start, before), (end, after)):
        state = checkpoint_state(cps[sequence], messages)
        _flatten({"state": state, "metadata": cps[sequence].checkpoint_metadata}, "", flat)
    added = [{"path": p, "value": after[p]} for p in after if p not in before]
    removed = [{"path": p, "value": before[p]} for p in before if p not in after]
    changed = [
        {"path": p, "before": before[p], "after": after[p]} for p in after if p in before and before[p] != after[p]
    ]
    total = len(added) + len(removed) + len(changed)
    budget = MAX_DIFF_CHANGES
    added, budget = added[:budget], max(budget - len(added), 0)
    removed, budget = removed[:budget], max(budget - len(removed), 0)
    changed = changed[:budget]
    return redact(
        {
            "run_id": run.id,
            "from_checkpoint": checkpoint_summary(cps[start]),
            "to_checkpoint": checkpoint_summary(cps[end]),
            "change_count": total,
            "added": added,
            "removed": removed,
            "changed": changed,
            "truncated": total > MAX_DIFF_CHANGES,
        }
    )
