"""The pure workflow engine: (plan, engine state, event) → decision.

No Flask, no Celery, no session. The caller persists the decision in one transaction and
dispatches the queued units after commit. Every workflow kind runs through here (the kinds live
in :mod:`kneo.workflows.kinds`); the state is JSON and lives in ``Run.engine_state``.

Events: :func:`start` (a new run), :func:`step_succeeded` / :func:`step_failed` (a unit settled),
:func:`human_resolved` (a reviewer decided) and :func:`continue_from` (replay of a failed
sequential run).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .kinds import HANDLERS
from .kinds.frames import Ctx, attempts_for, backoff_seconds, normalized_error
from .kinds.model import (
    MAX_ITERATIONS_ERROR,
    ROOT,
    ROOT_FRAME,
    Decision,
    HumanPause,
    Unit,
    UnsupportedWorkflow,
)
from .kinds.nested import nested_workflow

MAX_BACKOFF_SECONDS = 60.0

__all__ = [
    "MAX_BACKOFF_SECONDS",
    "MAX_ITERATIONS_ERROR",
    "ROOT",
    "ROOT_FRAME",
    "Decision",
    "HumanPause",
    "Unit",
    "UnsupportedWorkflow",
    "attempts_for",
    "backoff_seconds",
    "continue_from",
    "human_resolved",
    "is_root_unit",
    "start",
    "step_failed",
    "step_succeeded",
    "workflow_of",
]


def workflow_of(plan: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The root workflow plan, or None when the run targets the root agent."""
    key = plan.get("root_workflow")
    if plan.get("target") != "workflow" or not key:
        return None
    workflow: Mapping[str, Any] | None = plan["workflows"].get(key)
    return workflow


def is_root_unit(unit: Unit | Mapping[str, Any]) -> bool:
    """True when the unit belongs to the root workflow frame (not to a nested workflow)."""
    extra = unit.extra if isinstance(unit, Unit) else (unit.get("extra") or {})
    return bool(extra.get("frame", ROOT_FRAME) == ROOT_FRAME)


def start(plan: Mapping[str, Any], input_text: str) -> Decision:
    """Decide the first units of a new run."""
    workflow = workflow_of(plan)
    key = plan.get("root_workflow")
    opaque = False
    if workflow is None:
        root = plan.get("root_agent", ROOT)
        key = nested_workflow(plan, {"kind": "agent", "ref": root})
        if key is None:
            unit = Unit("agent", "agent", root, input_text, None, 1, None, 0)
            return Decision(state={"mode": "agent"}, queue=[unit])
        workflow, opaque = plan["workflows"][key], True
    if workflow["type"] not in HANDLERS:
        raise UnsupportedWorkflow(workflow["type"])
    state: dict[str, Any] = {"mode": workflow["type"], "workflow": key}
    if opaque:
        state["opaque"] = True
    ctx = Ctx(plan, state, HANDLERS)
    ctx.start_frame(str(key), input_text, None)
    return _finalize(ctx)


def step_succeeded(
    plan: Mapping[str, Any], state: Mapping[str, Any], unit: Mapping[str, Any], output_text: str
) -> Decision:
    """A unit completed with ``output_text``."""
    if state.get("mode") == "agent":
        decision = Decision(state=dict(state), status="completed", output_text=output_text)
        decision.visited.append(unit["step_id"])
        return decision
    ctx = _context(plan, state)
    routed = _route(ctx, unit)
    if routed is None:
        return ctx.decision
    frame, slot = routed
    extra = unit.get("extra") or {}
    meta: dict[str, Any] = {}
    if extra.get("fallback_for"):
        meta = {"fallback_for": extra["fallback_for"], "executed_step_id": unit["step_id"]}
    ctx.slot_done(frame, slot, unit.get("input_text") or "", output_text, meta)
    return _finalize(ctx)


UNRECOVERABLE_ERRORS = frozenset({"GuardrailViolation"})


def step_failed(
    plan: Mapping[str, Any],
    state: Mapping[str, Any],
    unit: Mapping[str, Any],
    error: Mapping[str, Any],
    attempt: int,
    max_attempts: int,
) -> Decision:
    """A unit's attempt failed: retry, continue, fall back or fail (spec-format §6.2, 1.2.0).

    A guardrail block is not a step failure: it is never retried and no error policy absorbs it.
    """
    if error.get("type") in UNRECOVERABLE_ERRORS:
        return Decision(state=dict(state), status="failed", error=normalized_error(error))
    if attempt < max_attempts:
        return Decision(state=dict(state), retry_delay=backoff_seconds(attempt))
    if state.get("mode") == "agent":
        return Decision(state=dict(state), status="failed", error=normalized_error(error))
    ctx = _context(plan, state)
    routed = _route(ctx, unit)
    if routed is None:
        return ctx.decision
    frame, slot = routed
    fallback_for = (unit.get("extra") or {}).get("fallback_for")
    ctx.slot_failed(frame, slot, error, unit.get("input_text") or "", fallback_for=fallback_for)
    return _finalize(ctx)


def human_resolved(
    plan: Mapping[str, Any],
    state: Mapping[str, Any],
    step_id: str,
    position: int,
    output_text: str,
    decision: str | None = None,
) -> Decision:
    """A human decision produced ``output_text`` for the paused step; the run continues from it."""
    ctx = _context(plan, state)
    entry = ctx.state.pop("blocked_on", None) or {"frame": ROOT_FRAME, "slot": position, "input": ""}
    frame = ctx.frames.get(entry["frame"])
    if frame is None:
        raise UnsupportedWorkflow(f"no workflow frame is waiting for human step {step_id}")
    if frame["type"] == "sequential" and ctx.is_root(frame):
        ctx.emit(frame, "workflow_resumed", {"start_index": int(entry["slot"]) + 1})
    else:
        ctx.emit(frame, "workflow_resumed", {"workflow_type": frame["type"], "step_id": step_id})
    meta = {"human_decision": decision} if decision else {}
    ctx.slot_done(frame, entry["slot"], entry.get("input") or "", output_text, meta)
    return _finalize(ctx)


def continue_from(plan: Mapping[str, Any], state: Mapping[str, Any], index: int, input_text: str) -> Decision:
    """Re-enter a failed sequential workflow at ``index`` with ``input_text``."""
    workflow = workflow_of(plan)
    if workflow is None or workflow["type"] != "sequential":
        raise UnsupportedWorkflow("only sequential workflow runs can be continued")
    visited = list(state.get("visited", []))[:index]
    fresh = {"mode": "sequential", "workflow": plan["root_workflow"], "visited": visited, "index": index}
    for key in ("next_token", "next_frame"):
        if key in state:
            fresh[key] = state[key]
    ctx = Ctx(plan, fresh, HANDLERS)
    frame = {"id": ROOT_FRAME, "workflow": plan["root_workflow"], "type": "sequential", "parent": None}
    frame.update(input=input_text, visited=[], iterations={}, index=index)
    ctx.frames[ROOT_FRAME] = frame
    ctx.emit(frame, "workflow_resumed", {"start_index": index})
    HANDLERS["sequential"].start(ctx, frame)
    return _finalize(ctx)


def _context(plan: Mapping[str, Any], state: Mapping[str, Any]) -> Ctx:
    ctx = Ctx(plan, state, HANDLERS)
    if not ctx.frames:
        _upgrade(ctx)
    return ctx


def _upgrade(ctx: Ctx) -> None:
    """Give a state written before frames existed (a root sequential index) its root frame."""
    key = ctx.state.get("workflow") or ROOT
    workflow = ctx.plan["workflows"][key]
    ctx.state.setdefault("mode", workflow["type"])
    ctx.frames[ROOT_FRAME] = {
        "id": ROOT_FRAME,
        "workflow": key,
        "type": workflow["type"],
        "parent": None,
        "input": "",
        "visited": [],
        "iterations": {},
        "index": int(ctx.state.get("index") or 0),
    }


def _route(ctx: Ctx, unit: Mapping[str, Any]) -> tuple[dict[str, Any], Any] | None:
    """The frame and slot a unit's outcome belongs to (None when its frame is gone)."""
    extra = unit.get("extra") or {}
    token = extra.get("token")
    if token in ctx.state["inflight"]:
        ctx.state["inflight"].remove(token)
    frame = ctx.frames.get(extra.get("frame", ROOT_FRAME))
    if frame is None:
        return None
    return frame, extra.get("slot", unit.get("position", 0))


def _finalize(ctx: Ctx) -> Decision:
    """Block on the first pending human request once nothing else is in flight."""
    state, decision = ctx.state, ctx.decision
    if decision.status in ("completed", "failed"):
        state["humans"] = []
        return decision
    humans = [h for h in state["humans"] if h["frame"] in ctx.frames]
    state["humans"] = humans
    if humans and not state["inflight"]:
        entry = humans.pop(0)
        state["blocked_on"] = entry
        decision.status = "blocked"
        decision.human = HumanPause(
            entry["step_id"], entry["ref"], entry["input"], int(entry["position"]), entry["workflow"], entry["node_id"]
        )
    return decision
