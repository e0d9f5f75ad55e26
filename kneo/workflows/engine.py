"""The pure workflow engine: (plan, engine state, event) → decision.

No Flask, no Celery, no session. The caller persists the decision in one transaction and
dispatches the queued units after commit.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ROOT = "__root__"
MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True)
class Unit:
    """An executable unit the engine wants queued."""

    step_id: str
    kind: str
    ref: str | None
    input_text: str
    workflow_key: str | None
    max_attempts: int
    timeout_seconds: int | None
    position: int
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HumanPause:
    """The run must pause on a human step."""

    step_id: str
    ref: str
    input_text: str
    position: int
    workflow_key: str | None


@dataclass
class Decision:
    """What the caller must persist and dispatch."""

    state: dict[str, Any]
    queue: list[Unit] = field(default_factory=list)
    status: str | None = None
    output_text: str | None = None
    error: dict[str, Any] | None = None
    human: HumanPause | None = None
    visited: list[str] = field(default_factory=list)
    step_outcome: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    retry_delay: float | None = None


def workflow_of(plan: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The root workflow plan, or None when the run targets the root agent."""
    key = plan.get("root_workflow")
    if plan.get("target") != "workflow" or not key:
        return None
    workflow: Mapping[str, Any] | None = plan["workflows"].get(key)
    return workflow


def attempts_for(step: Mapping[str, Any]) -> int:
    """Attempts allowed for a step: retries apply with ``on_error: retry`` or ``max_retries > 0``."""
    retries = int(step.get("max_retries") or 0)
    if step.get("on_error") == "retry" and retries == 0:
        retries = 1
    return retries + 1


def backoff_seconds(attempt: int, base: float = 0.5, rng: random.Random | None = None) -> float:
    """Exponential back-off with full jitter for the given (1-based) failed attempt."""
    ceiling = min(MAX_BACKOFF_SECONDS, base * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def start(plan: Mapping[str, Any], input_text: str) -> Decision:
    """Decide the first units of a new run."""
    workflow = workflow_of(plan)
    if workflow is None:
        unit = Unit("agent", "agent", plan.get("root_agent", ROOT), input_text, None, 1, None, 0)
        return Decision(state={"mode": "agent"}, queue=[unit])
    if workflow["type"] != "sequential":
        raise UnsupportedWorkflow(workflow["type"])
    state: dict[str, Any] = {"mode": "sequential", "index": 0, "workflow": plan["root_workflow"]}
    decision = Decision(state=state)
    decision.events.append(("workflow_started", {"start_index": 0, "step_count": len(workflow["steps"])}))
    return _advance_sequential(plan, workflow, decision, 0, input_text)


class UnsupportedWorkflow(Exception):
    """The engine cannot run this workflow type."""


def step_succeeded(
    plan: Mapping[str, Any], state: Mapping[str, Any], unit: Mapping[str, Any], output_text: str
) -> Decision:
    """A unit completed with ``output_text``."""
    decision = Decision(state=dict(state))
    _visit(decision, unit["step_id"])
    if state.get("mode") == "agent":
        decision.status = "completed"
        decision.output_text = output_text
        return decision
    workflow = plan["workflows"][state["workflow"]]
    next_index = int(unit["position"]) + 1
    return _advance_sequential(plan, workflow, decision, next_index, output_text)


def step_failed(
    plan: Mapping[str, Any],
    state: Mapping[str, Any],
    unit: Mapping[str, Any],
    error: Mapping[str, Any],
    attempt: int,
    max_attempts: int,
) -> Decision:
    """A unit's attempt failed: retry, continue, fall back or fail the run."""
    decision = Decision(state=dict(state))
    if attempt < max_attempts:
        decision.retry_delay = backoff_seconds(attempt)
        return decision
    if state.get("mode") == "agent":
        return _fail(decision, error)
    workflow = plan["workflows"][state["workflow"]]
    step = _step_by_id(workflow, unit["step_id"])
    policy = (step or {}).get("on_error", "fail")
    if unit.get("extra", {}).get("fallback_for") or step is None:
        policy = "fail"
    if policy == "continue":
        _visit(decision, unit["step_id"])
        decision.step_outcome = {"step_failed": True, "error": dict(error), "on_error": "continue"}
        return _advance_sequential(plan, workflow, decision, int(unit["position"]) + 1, unit["input_text"])
    if policy == "fallback" and step and step.get("fallback_ref"):
        target = _step_by_id(workflow, step["fallback_ref"])
        if target is not None:
            fallback_unit = _unit_for(
                target, unit["input_text"], int(unit["position"]), state["workflow"], fallback_for=step["id"]
            )
            decision.queue.append(fallback_unit)
            decision.step_outcome = {"step_failed": True, "error": dict(error), "on_error": "fallback"}
            return decision
    decision.events.append(("workflow_failed", {"failed_step": unit["step_id"]}))
    return _fail(decision, error)


def human_resolved(
    plan: Mapping[str, Any], state: Mapping[str, Any], step_id: str, position: int, output_text: str
) -> Decision:
    """A human decision produced ``output_text`` for the paused step."""
    decision = Decision(state=dict(state))
    _visit(decision, step_id)
    workflow = plan["workflows"][state["workflow"]]
    decision.events.append(("workflow_resumed", {"start_index": position + 1}))
    return _advance_sequential(plan, workflow, decision, position + 1, output_text)


def continue_from(plan: Mapping[str, Any], state: Mapping[str, Any], index: int, input_text: str) -> Decision:
    """Re-enter a failed sequential workflow at ``index`` with ``input_text``."""
    workflow = workflow_of(plan)
    if workflow is None or workflow["type"] != "sequential":
        raise UnsupportedWorkflow("only sequential workflow runs can be continued")
    visited = list(state.get("visited", []))[:index]
    decision = Decision(state=dict(state, index=index, visited=visited))
    decision.events.append(("workflow_resumed", {"start_index": index}))
    return _advance_sequential(plan, workflow, decision, index, input_text)


def _advance_sequential(
    plan: Mapping[str, Any], workflow: Mapping[str, Any], decision: Decision, index: int, text: str
) -> Decision:
    steps = workflow["steps"]
    decision.state["index"] = index
    if index >= len(steps):
        decision.status = "completed"
        decision.output_text = text
        visited = list(decision.state.get("visited", []))
        decision.events.append(("workflow_completed", {"visited_steps": visited}))
        return decision
    step = steps[index]
    if step["kind"] == "human":
        decision.status = "blocked"
        decision.human = HumanPause(step["id"], step["ref"], text, index, decision.state.get("workflow"))
        return decision
    decision.queue.append(_unit_for(step, text, index, decision.state.get("workflow")))
    return decision


def _unit_for(
    step: Mapping[str, Any], text: str, index: int, workflow_key: str | None, fallback_for: str | None = None
) -> Unit:
    extra = {"fallback_for": fallback_for} if fallback_for else {}
    return Unit(
        step_id=step["id"],
        kind=step["kind"],
        ref=step.get("ref"),
        input_text=text,
        workflow_key=workflow_key,
        max_attempts=attempts_for(step),
        timeout_seconds=step.get("timeout_seconds"),
        position=index,
        extra=extra,
    )


def _visit(decision: Decision, step_id: str) -> None:
    decision.visited.append(step_id)
    decision.state["visited"] = [*decision.state.get("visited", []), step_id]


def _step_by_id(workflow: Mapping[str, Any], step_id: str) -> Mapping[str, Any] | None:
    return next((s for s in workflow["steps"] if s["id"] == step_id), None)


def _fail(decision: Decision, error: Mapping[str, Any]) -> Decision:
    decision.status = "failed"
    decision.error = {"message": error.get("message", "step failed"), "type": error.get("type", "error")}
    return decision
