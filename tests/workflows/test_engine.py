"""The pure workflow engine: (plan, state, event) → decision, with no I/O."""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import Any

import pytest

from kneo.workflows import engine
from kneo.workflows.engine import HumanPause, Unit

ERROR = {"message": "boom", "type": "ValueError"}


def step(step_id: str, kind: str = "function", **extra: Any) -> dict[str, Any]:
    base = {
        "id": step_id,
        "kind": kind,
        "ref": step_id,
        "on_error": "fail",
        "fallback_ref": None,
        "max_retries": 0,
        "timeout_seconds": None,
    }
    return {**base, **extra}


def plan(*steps: dict[str, Any], target: str = "workflow", type_: str = "sequential") -> dict[str, Any]:
    return {
        "target": target,
        "root_agent": "__root__",
        "root_workflow": "__root__",
        "agents": {"__root__": {"name": "root"}},
        "workflows": {"__root__": {"key": "__root__", "type": type_, "name": "wf", "steps": list(steps)}},
    }


def as_dict(unit: Unit) -> dict[str, Any]:
    return asdict(unit)


def unit_token(decision: engine.Decision) -> str:
    return str(decision.queue[0].extra["token"])


def test_sequential_start_queues_step_zero() -> None:
    p = plan(step("a"), step("b", timeout_seconds=7))
    decision = engine.start(p, "hello")
    state = decision.state
    assert (state["mode"], state["index"], state["workflow"], state["visited"]) == ("sequential", 0, "__root__", [])
    assert state["frames"]["0"]["type"] == "sequential" and state["inflight"] == [unit_token(decision)]
    assert decision.status is None
    assert decision.events == [("workflow_started", {"start_index": 0, "step_count": 2})]
    (unit,) = decision.queue
    assert (unit.step_id, unit.kind, unit.ref, unit.input_text, unit.position) == ("a", "function", "a", "hello", 0)
    assert unit.workflow_key == "__root__" and unit.max_attempts == 1
    assert (unit.extra["frame"], unit.extra["slot"]) == ("0", 0)


def test_unsupported_workflow_type() -> None:
    with pytest.raises(engine.UnsupportedWorkflow):
        engine.start(plan(step("a"), type_="magic"), "x")


def test_step_succeeded_advances_then_completes_with_last_output() -> None:
    p = plan(step("a"), step("b", timeout_seconds=9))
    first = engine.start(p, "in")
    second = engine.step_succeeded(p, first.state, as_dict(first.queue[0]), "out-a")
    assert second.status is None
    assert second.visited == ["a"] and second.state["visited"] == ["a"] and second.state["index"] == 1
    (unit,) = second.queue
    assert (unit.step_id, unit.input_text, unit.position, unit.timeout_seconds) == ("b", "out-a", 1, 9)
    done = engine.step_succeeded(p, second.state, as_dict(unit), "out-b")
    assert done.status == "completed" and done.output_text == "out-b" and done.queue == []
    assert done.state["visited"] == ["a", "b"]
    assert done.events == [("workflow_completed", {"visited_steps": ["a", "b"]})]


def test_engine_does_not_mutate_given_state() -> None:
    p = plan(step("a"), step("b"))
    state = engine.start(p, "in").state
    snapshot = dict(state)
    engine.step_succeeded(p, state, {"step_id": "a", "position": 0}, "x")
    assert state == snapshot


def test_human_step_blocks_with_pause() -> None:
    p = plan(step("draft"), step("approve", kind="human", ref="approver"), step("publish"))
    first = engine.start(p, "in")
    blocked = engine.step_succeeded(p, first.state, as_dict(first.queue[0]), "draft text")
    assert blocked.status == "blocked" and blocked.queue == []
    assert blocked.human == HumanPause("approve", "approver", "draft text", 1, "__root__")


def test_human_first_step_blocks_at_start() -> None:
    decision = engine.start(plan(step("approve", kind="human")), "in")
    assert decision.status == "blocked"
    assert decision.human is not None and decision.human.position == 0


def test_human_resolved_continues_after_the_pause() -> None:
    p = plan(step("draft"), step("approve", kind="human"), step("publish"))
    state = {"mode": "sequential", "index": 1, "workflow": "__root__", "visited": ["draft"]}
    resumed = engine.human_resolved(p, state, "approve", 1, "approved text")
    assert resumed.visited == ["approve"] and resumed.state["visited"] == ["draft", "approve"]
    assert resumed.events[0] == ("workflow_resumed", {"start_index": 2})
    (unit,) = resumed.queue
    assert (unit.step_id, unit.input_text, unit.position) == ("publish", "approved text", 2)


def test_human_resolved_on_last_step_completes() -> None:
    p = plan(step("draft"), step("approve", kind="human"))
    done = engine.human_resolved(p, {"mode": "sequential", "workflow": "__root__"}, "approve", 1, "final")
    assert done.status == "completed" and done.output_text == "final"


@pytest.mark.parametrize(("attempt", "max_attempts"), [(1, 2), (1, 5), (4, 5)])
def test_step_failed_retries_with_positive_delay(attempt: int, max_attempts: int) -> None:
    p = plan(step("a", max_retries=max_attempts - 1))
    decision = engine.step_failed(
        p, engine.start(p, "x").state, {"step_id": "a", "position": 0, "input_text": "x"}, ERROR, attempt, max_attempts
    )
    assert decision.retry_delay is not None and decision.retry_delay > 0
    assert decision.status is None and decision.queue == [] and decision.error is None


def test_on_error_continue_passes_input_through() -> None:
    p = plan(step("a", on_error="continue"), step("b"))
    decision = engine.step_failed(
        p, engine.start(p, "x").state, {"step_id": "a", "position": 0, "input_text": "x"}, ERROR, 1, 1
    )
    assert decision.status is None and decision.retry_delay is None
    assert decision.visited == ["a"]
    assert decision.step_outcome == {"step_failed": True, "error": ERROR, "on_error": "continue"}
    (unit,) = decision.queue
    assert (unit.step_id, unit.input_text, unit.position) == ("b", "x", 1)


def test_on_error_continue_on_last_step_completes_with_input() -> None:
    p = plan(step("a", on_error="continue"))
    decision = engine.step_failed(
        p, engine.start(p, "x").state, {"step_id": "a", "position": 0, "input_text": "x"}, ERROR, 1, 1
    )
    assert decision.status == "completed" and decision.output_text == "x"


def test_fallback_queues_the_fallback_step() -> None:
    p = plan(step("a", on_error="fallback", fallback_ref="rescue"), step("b"), step("rescue", max_retries=2))
    state = engine.start(p, "x").state
    decision = engine.step_failed(p, state, {"step_id": "a", "position": 0, "input_text": "x"}, ERROR, 1, 1)
    assert decision.status is None
    assert decision.step_outcome == {"step_failed": True, "error": ERROR, "on_error": "fallback"}
    (unit,) = decision.queue
    assert (unit.step_id, unit.input_text, unit.position, unit.max_attempts) == ("rescue", "x", 0, 3)
    assert unit.extra["fallback_for"] == "a"
    after = engine.step_succeeded(p, decision.state, as_dict(unit), "rescued")
    assert [u.step_id for u in after.queue] == ["b"] and after.queue[0].input_text == "rescued"


def test_failing_fallback_fails_the_run() -> None:
    p = plan(step("a", on_error="fallback", fallback_ref="rescue"), step("rescue", on_error="continue"))
    unit = {"step_id": "rescue", "position": 0, "input_text": "x", "extra": {"fallback_for": "a"}}
    decision = engine.step_failed(p, engine.start(p, "x").state, unit, ERROR, 1, 1)
    assert decision.status == "failed" and decision.queue == []


def test_fallback_with_unknown_target_fails() -> None:
    p = plan(step("a", on_error="fallback", fallback_ref="nowhere"))
    decision = engine.step_failed(
        p, engine.start(p, "x").state, {"step_id": "a", "position": 0, "input_text": "x"}, ERROR, 1, 1
    )
    assert decision.status == "failed"


@pytest.mark.parametrize("on_error", ["fail", "retry"])
def test_exhausted_attempts_fail_the_run(on_error: str) -> None:
    p = plan(step("a", on_error=on_error), step("b"))
    decision = engine.step_failed(
        p, engine.start(p, "x").state, {"step_id": "a", "position": 0, "input_text": "x"}, ERROR, 2, 2
    )
    assert decision.status == "failed" and decision.queue == [] and decision.retry_delay is None
    assert decision.error == {"message": "boom", "type": "ValueError"}
    assert ("workflow_failed", {"failed_step": "a"}) in decision.events


def test_fail_fills_default_error_fields() -> None:
    p = plan(step("a"))
    decision = engine.step_failed(
        p, engine.start(p, "x").state, {"step_id": "a", "position": 0, "input_text": "x"}, {}, 1, 1
    )
    assert decision.error == {"message": "step failed", "type": "error"}


def test_agent_mode_runs_the_root_agent() -> None:
    p = plan(step("a"), target="agent")
    decision = engine.start(p, "hi")
    assert decision.state == {"mode": "agent"}
    (unit,) = decision.queue
    assert (unit.step_id, unit.kind, unit.ref, unit.input_text, unit.max_attempts) == (
        "agent",
        "agent",
        "__root__",
        "hi",
        1,
    )
    done = engine.step_succeeded(p, decision.state, as_dict(unit), "Final answer: hi")
    assert done.status == "completed" and done.output_text == "Final answer: hi"
    failed = engine.step_failed(p, decision.state, as_dict(unit), ERROR, 1, 1)
    assert failed.status == "failed" and failed.error == ERROR


def test_workflow_target_without_workflow_runs_agent() -> None:
    p = plan(step("a"))
    p["root_workflow"] = None
    assert engine.workflow_of(p) is None
    assert engine.start(p, "x").state == {"mode": "agent"}


def test_continue_from_reenters_at_index() -> None:
    p = plan(step("a"), step("b"), step("c"))
    state = {"mode": "sequential", "workflow": "__root__", "visited": ["a", "b"], "index": 2}
    decision = engine.continue_from(p, state, 1, "from-a")
    assert decision.state["visited"] == ["a"] and decision.state["index"] == 1
    assert decision.events == [("workflow_resumed", {"start_index": 1})]
    assert [(u.step_id, u.input_text) for u in decision.queue] == [("b", "from-a")]
    with pytest.raises(engine.UnsupportedWorkflow):
        engine.continue_from(plan(step("a"), target="agent"), {}, 0, "x")


@pytest.mark.parametrize(
    ("step_fields", "expected"),
    [
        ({}, 1),
        ({"max_retries": None}, 1),
        ({"max_retries": 0, "on_error": "fail"}, 1),
        ({"max_retries": 2}, 3),
        ({"max_retries": 0, "on_error": "retry"}, 2),
        ({"max_retries": 3, "on_error": "retry"}, 4),
        ({"max_retries": 1, "on_error": "continue"}, 2),
    ],
)
def test_attempts_for(step_fields: dict[str, Any], expected: int) -> None:
    assert engine.attempts_for(step_fields) == expected


@pytest.mark.parametrize("attempt", [0, 1, 2, 3, 5, 8, 50])
def test_backoff_bounds(attempt: int) -> None:
    ceiling = min(engine.MAX_BACKOFF_SECONDS, 0.5 * 2 ** max(attempt - 1, 0))
    rng = random.Random(attempt)
    for _ in range(50):
        delay = engine.backoff_seconds(attempt, rng=rng)
        assert ceiling / 2 <= delay <= ceiling
        assert 0 < delay <= engine.MAX_BACKOFF_SECONDS


def test_backoff_is_capped_and_grows() -> None:
    assert engine.backoff_seconds(100, rng=random.Random(1)) >= engine.MAX_BACKOFF_SECONDS / 2
    assert engine.backoff_seconds(1, base=2.0, rng=random.Random(1)) <= 2.0
    assert engine.backoff_seconds(1, rng=random.Random(3)) < engine.backoff_seconds(6, rng=random.Random(3))
