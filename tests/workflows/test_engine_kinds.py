"""Every workflow kind through the pure engine, driven by a fake executor over the example specs."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from kneo import specs
from kneo.workflows import engine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Behaviour = Callable[[dict[str, Any]], str]


def compiled(name: str) -> dict[str, Any]:
    raw = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return specs.compile_document(raw, allowed_modules=["examples", "tests.support"])


def offline(plan: dict[str, Any], unit: dict[str, Any]) -> str:
    """What the bridge runtime or the allowlisted function returns for a unit."""
    if unit["kind"] in ("agent", "guardrail"):
        return f"Final answer: {unit['input_text']}"
    module, _, attr = plan["functions"][unit["ref"]]["implementation"].rpartition(".")
    return str(getattr(importlib.import_module(module), attr)(unit["input_text"]))


class Driver:
    """Plays the role of the workers and the persistence layer around the engine."""

    def __init__(self, plan: dict[str, Any], lifo: bool = False) -> None:
        self.plan = plan
        self.lifo = lifo
        self.state: dict[str, Any] = {}
        self.pending: list[dict[str, Any]] = []
        self.status: str | None = None
        self.output: str | None = None
        self.error: dict[str, Any] | None = None
        self.human: engine.HumanPause | None = None
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.completions: list[dict[str, Any]] = []
        self.executed: list[str] = []
        self.max_queued = 0

    def apply(self, decision: engine.Decision) -> None:
        self.state = decision.state
        self.events += decision.events
        self.completions += decision.completions
        self.pending += [asdict(u) for u in decision.queue]
        self.max_queued = max(self.max_queued, len(decision.queue))
        if decision.status:
            self.status = decision.status
            self.output = decision.output_text
            self.error = decision.error
        if decision.human is not None:
            assert not self.pending, "a run blocks only once nothing is in flight"
            self.human = decision.human

    def start(self, text: str) -> Driver:
        self.apply(engine.start(self.plan, text))
        return self.drain()

    def drain(self, behaviour: Behaviour | None = None) -> Driver:
        while self.pending and self.status not in ("completed", "failed"):
            unit = self.pending.pop(-1 if self.lifo else 0)
            self.executed.append(unit["step_id"])
            self.settle(unit, behaviour)
        return self

    def settle(self, unit: dict[str, Any], behaviour: Behaviour | None) -> None:
        for attempt in range(1, unit["max_attempts"] + 1):
            try:
                output = (behaviour or (lambda u: offline(self.plan, u)))(unit)
            except Exception as exc:
                error = {"message": str(exc), "type": type(exc).__name__}
                decision = engine.step_failed(self.plan, self.state, unit, error, attempt, unit["max_attempts"])
                if decision.retry_delay is not None:
                    continue
                self.apply(decision)
                return
            self.apply(engine.step_succeeded(self.plan, self.state, unit, output))
            return

    def resume(self, text: str, decision: str = "approved") -> Driver:
        assert self.human is not None
        pause, self.human, self.status = self.human, None, None
        self.apply(engine.human_resolved(self.plan, self.state, pause.step_id, pause.position, text, decision))
        return self.drain()

    @property
    def visited(self) -> list[str]:
        return list(self.state.get("visited", []))

    @property
    def visited_nodes(self) -> list[str]:
        return list(self.state.get("visited_nodes", []))

    def event(self, event_type: str) -> list[dict[str, Any]]:
        return [m for t, m in self.events if t == event_type]


# -- sequential -----------------------------------------------------------------------------------
def test_sequential_pipeline() -> None:
    run = Driver(compiled("sequential_pipeline")).start("q3")
    assert run.status == "completed"
    assert run.output == "Published: Final answer: Outline: q3"
    assert run.visited == ["outline", "write", "publish"]
    assert [c["step_id"] for c in run.completions] == ["outline", "write", "publish"]
    assert run.event("workflow_started") == [{"start_index": 0, "step_count": 3}]
    assert run.event("workflow_completed") == [{"visited_steps": ["outline", "write", "publish"]}]


# -- concurrent -----------------------------------------------------------------------------------
@pytest.mark.parametrize("lifo", [False, True])
def test_concurrent_fans_out_and_joins_in_declaration_order(lifo: bool) -> None:
    run = Driver(compiled("concurrent_fanout"), lifo=lifo)
    run.apply(engine.start(run.plan, "ship the new pricing page"))
    assert [u["step_id"] for u in run.pending] == ["legal", "length", "headline"]
    assert run.max_queued == 3
    run.drain()
    assert run.status == "completed"
    assert run.output == "SHIP THE NEW PRICING PAGE"
    assert run.visited == ["legal", "length", "headline"]
    assert run.event("workflow_started") == [{"workflow_type": "concurrent", "participant_count": 3}]
    assert run.event("workflow_completed")[0]["visited_steps"] == ["legal", "length", "headline"]


def test_concurrent_visited_lists_settled_participants_in_declaration_order() -> None:
    run = Driver(compiled("concurrent_fanout"))
    run.apply(engine.start(run.plan, "x"))
    last = run.pending.pop(2)
    run.apply(engine.step_succeeded(run.plan, run.state, last, "X"))
    assert run.visited == ["headline"] and run.status is None
    first = run.pending.pop(0)
    run.apply(engine.step_succeeded(run.plan, run.state, first, "legal ok"))
    assert run.visited == ["legal", "headline"] and run.status is None
    run.drain()
    assert run.visited == ["legal", "length", "headline"] and run.output == "X"


def test_concurrent_failure_waits_for_siblings_then_fails_with_first_failure() -> None:
    run = Driver(compiled("concurrent_fanout"))
    run.apply(engine.start(run.plan, "x"))
    units = {u["step_id"]: u for u in run.pending}
    run.pending.clear()
    error_b = {"message": "headline broke", "type": "ValueError"}
    error_a = {"message": "length broke", "type": "KeyError"}
    run.apply(engine.step_failed(run.plan, run.state, units["headline"], error_b, 1, 1))
    assert run.status is None
    run.apply(engine.step_failed(run.plan, run.state, units["length"], error_a, 1, 1))
    assert run.status is None, "a sibling is still running"
    run.apply(engine.step_succeeded(run.plan, run.state, units["legal"], "ok"))
    assert run.status == "failed" and run.error == error_a
    assert run.visited == ["legal"]


# -- graph ----------------------------------------------------------------------------------------
def test_graph_routes_on_conditions_with_a_cycle() -> None:
    run = Driver(compiled("graph_triage")).start("the API is down")
    assert run.status == "completed"
    assert run.visited_nodes == ["triage", "polish", "polish", "polish", "page"]
    assert run.output == "Final answer: URGENT: the API is down***"
    assert run.event("workflow_started") == [{"workflow_type": "graph", "start": "triage", "max_steps": 10}]
    assert run.event("workflow_completed") == [{"visited_nodes": run.visited_nodes, "termination": "no_matching_edge"}]
    polish = [c for c in run.completions if c["node_id"] == "polish"]
    assert [c["iteration"] for c in polish] == [1, 2, 3]
    assert {c["type"] for c in run.completions} == {"node_completed"}


def test_graph_routine_branch() -> None:
    run = Driver(compiled("graph_triage")).start("new logo please")
    assert run.visited_nodes[-1] == "queue" and run.output == "Archived: ROUTINE: new logo please***"


def test_graph_cycle_stops_at_max_steps() -> None:
    run = Driver(compiled("graph_loop_capped")).start("x")
    assert run.status == "failed"
    assert run.error == {"message": "Run stopped after reaching max iterations.", "type": "max_iterations"}
    assert run.visited_nodes == ["refine", "check", "refine", "check"]
    assert run.state["termination"] == "max_steps"
    assert run.event("workflow_completed") == [{"visited_nodes": run.visited_nodes, "termination": "max_steps"}]
    assert run.event("workflow_failed")[0]["termination"] == "max_steps"


def test_graph_without_matching_edge_completes() -> None:
    run = Driver(compiled("graph_loop_capped"))
    run.plan["workflows"]["__root__"]["edges"] = []
    run.start("x")
    assert run.status == "completed" and run.visited_nodes == ["refine"]
    assert run.state["termination"] == "no_matching_edge"


# -- group chat and handoff -----------------------------------------------------------------------
def test_group_chat_rounds_see_the_transcript() -> None:
    run = Driver(compiled("group_chat_debate"))
    run.apply(engine.start(run.plan, "topic"))
    first = run.pending[0]
    assert first["extra"]["transcript"] == [{"role": "user", "name": None, "content": "topic"}]
    run.drain()
    assert run.status == "completed"
    assert run.visited == ["optimist", "critic", "optimist", "critic"]
    assert run.output == "Final answer: " * 4 + "topic"
    assert [c["iteration"] for c in run.completions] == [1, 1, 2, 2]
    assert run.event("workflow_started") == [{"workflow_type": "group-chat", "participant_count": 2, "rounds": 2}]


def test_handoff_sequence_completes_normally() -> None:
    run = Driver(compiled("handoff_escalation")).start("printer on fire")
    assert run.status == "completed"
    assert run.visited == ["frontline", "specialist", "frontline"]
    assert run.output == "Final answer: FINAL ANSWER: PRINTER ON FIRE"


def test_handoff_round_robin_runs_the_cap_and_completes() -> None:
    plan = compiled("handoff_escalation")
    plan["workflows"]["__root__"]["selector"] = {"type": "round_robin", "sequence": []}
    plan["workflows"]["__root__"]["max_iterations"] = 5
    run = Driver(plan).start("x")
    assert run.status == "completed"
    assert run.visited == ["frontline", "specialist", "frontline", "specialist", "frontline"]


# -- nested ---------------------------------------------------------------------------------------
def test_nested_workflow_and_workflow_backed_agent_run_as_child_frames() -> None:
    run = Driver(compiled("nested_workflows")).start("q3")
    assert run.status == "completed"
    assert run.visited == ["research", "review", "publish"]
    assert run.executed == ["outline", "analyse", "count", "check", "publish"]
    assert run.output == "Published: Final answer: Final answer: Outline: q3"
    assert list(run.state["frames"]) == ["0"], "child frames are removed when they finish"
    nested = [m for t, m in run.events if t == "workflow_started" and m.get("nested")]
    assert [m["workflow_name"] for m in nested] == ["research-flow", "review-flow"]
    assert [c["step_id"] for c in run.completions] == ["research", "review", "publish"]


def test_nested_failure_applies_the_outer_steps_policy() -> None:
    plan = compiled("nested_workflows")
    plan["workflows"]["__root__"]["steps"][0]["on_error"] = "continue"

    def behaviour(unit: dict[str, Any]) -> str:
        if unit["step_id"] == "analyse":
            raise RuntimeError("model down")
        return offline(plan, unit)

    run = Driver(plan)
    run.apply(engine.start(plan, "q3"))
    run.drain(behaviour)
    assert run.status == "completed" and run.visited == ["research", "review", "publish"]
    assert run.completions[0]["metadata"]["step_failed"] is True
    assert run.output == "Published: Final answer: q3"


def test_nested_retry_reruns_the_child_workflow() -> None:
    plan = compiled("nested_workflows")
    plan["workflows"]["__root__"]["steps"][0]["max_retries"] = 1
    calls = {"n": 0}

    def behaviour(unit: dict[str, Any]) -> str:
        if unit["step_id"] == "analyse":
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("transient")
        return offline(plan, unit)

    run = Driver(plan)
    run.apply(engine.start(plan, "q3"))
    run.drain(behaviour)
    assert run.status == "completed" and run.executed.count("outline") == 2


# -- error policies -------------------------------------------------------------------------------
def test_on_error_continue_fallback_and_retry() -> None:
    run = Driver(compiled("resilient_pipeline")).start("report")
    assert run.status == "completed"
    assert run.visited == ["enrich", "summarise", "flaky_call", "default_summary"]
    assert run.output == "Fallback summary of: Fallback summary of: report"
    meta = {c["step_id"]: c["metadata"] for c in run.completions}
    assert meta["enrich"]["on_error"] == "continue" and meta["enrich"]["output_text"] == "report"
    assert meta["summarise"]["fallback_for"] == "summarise"
    assert meta["summarise"]["executed_step_id"] == "default_summary"
    assert run.executed.count("flaky_call") == 1


def test_engine_state_is_json_and_given_state_untouched() -> None:
    import json

    run = Driver(compiled("nested_workflows"))
    decision = engine.start(run.plan, "x")
    frozen = json.dumps(decision.state, sort_keys=True)
    engine.step_succeeded(run.plan, decision.state, asdict(decision.queue[0]), "y")
    assert json.dumps(decision.state, sort_keys=True) == frozen


def test_workflow_backed_root_agent_runs_its_workflow_opaquely() -> None:
    plan = compiled("nested_workflows")
    plan["target"], plan["root_workflow"] = "agent", None
    plan["agents"]["__root__"]["as_agent"] = "research_flow"
    run = Driver(plan).start("q3")
    assert run.status == "completed" and run.output == "Final answer: Outline: q3"
    assert run.visited == [] and run.completions == []


def test_state_written_before_frames_still_advances() -> None:
    plan = compiled("sequential_pipeline")
    legacy = {"mode": "sequential", "index": 1, "workflow": "__root__", "visited": ["outline"]}
    unit = {"step_id": "write", "kind": "agent", "ref": "writer", "input_text": "o", "position": 1, "extra": {}}
    decision = engine.step_succeeded(plan, legacy, unit, "w")
    assert decision.state["visited"] == ["outline", "write"]
    assert [(u.step_id, u.input_text, u.position) for u in decision.queue] == [("publish", "w", 2)]
