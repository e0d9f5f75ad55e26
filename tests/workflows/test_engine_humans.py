"""Human steps pause and resume in every workflow kind of the pure engine."""

from __future__ import annotations

from typing import Any

import pytest

from kneo.workflows import engine
from tests.workflows.test_engine_kinds import Driver, compiled, offline


@pytest.mark.parametrize(
    ("decision", "text", "expected"),
    [("approved", "Draft: q3", "Published: Draft: q3"), ("rejected", "Rejected by human reviewer: no", None)],
)
def test_sequential_human(decision: str, text: str, expected: str | None) -> None:
    run = Driver(compiled("human_sequential_approval")).start("q3")
    assert run.human == engine.HumanPause("approve", "editor", "Draft: q3", 1, "__root__")
    assert run.visited == ["draft"]
    run.resume(text, decision)
    assert run.status == "completed" and run.output == (expected or f"Published: {text}")
    assert run.visited == ["draft", "approve", "publish"]
    assert run.completions[1]["metadata"]["human_decision"] == decision


@pytest.mark.parametrize(("text", "last"), [("Draft: q3", "publish"), ("Rejected by human reviewer: no", "archive")])
def test_graph_human_routes_on_the_decision(text: str, last: str) -> None:
    run = Driver(compiled("human_graph_review")).start("q3")
    assert run.human is not None and run.human.node_id == "review"
    assert run.visited_nodes == ["draft"]
    run.resume(text, "rejected" if "Rejected" in text else "approved")
    assert run.status == "completed" and run.visited_nodes == ["draft", "review", last]


@pytest.mark.parametrize("lifo", [False, True])
def test_concurrent_human_drains_then_blocks(lifo: bool) -> None:
    run = Driver(compiled("human_concurrent_signoff"), lifo=lifo).start("q3")
    assert run.status == "blocked" and run.human is not None and run.human.step_id == "signoff"
    assert run.visited == ["draft", "headline"]
    run.resume("Rejected by human reviewer: later", "rejected")
    assert run.status == "completed" and run.output == "Q3"
    assert run.visited == ["draft", "signoff", "headline"]


def test_concurrent_human_not_asked_when_a_sibling_failed() -> None:
    run = Driver(compiled("human_concurrent_signoff"))
    run.apply(engine.start(run.plan, "q3"))

    def behaviour(unit: dict[str, Any]) -> str:
        if unit["step_id"] == "draft":
            raise ValueError("no draft")
        return offline(run.plan, unit)

    run.drain(behaviour)
    assert run.status == "failed" and run.human is None and run.error == {"message": "no draft", "type": "ValueError"}


def test_group_chat_human_turn() -> None:
    run = Driver(compiled("human_group_chat")).start("idea")
    assert run.human is not None and run.human.step_id == "moderator" and run.human.input_text == "Final answer: idea"
    run.resume("Final answer: idea (moderated)", "edited")
    assert run.status == "completed" and run.output == "Published: Final answer: idea (moderated)"
    assert run.visited == ["proposer", "moderator", "closer"]


def test_handoff_human_turn() -> None:
    run = Driver(compiled("human_handoff")).start("ticket")
    assert run.human is not None and run.human.step_id == "supervisor"
    run.resume("Rejected by human reviewer: wrong", "rejected")
    assert run.output == "Archived: Rejected by human reviewer: wrong"
    assert run.visited == ["agent", "supervisor", "close"]


def test_nested_gate_human() -> None:
    run = Driver(compiled("human_nested_gate")).start("q3")
    assert run.human is not None and run.human.input_text == "Draft: Outline: q3"
    run.resume("Draft: Outline: q3")
    assert run.status == "completed" and run.output == "Published: Draft: Outline: q3"
    assert run.visited == ["prepare", "approve", "release"]


def test_human_inside_a_nested_workflow_pauses_the_outer_run() -> None:
    plan = compiled("human_nested_gate")
    plan["workflows"]["prepare_flow"]["steps"].insert(
        1, {**plan["workflows"]["__root__"]["steps"][1], "id": "inner_gate"}
    )
    run = Driver(plan).start("q3")
    assert run.human is not None and run.human.step_id == "inner_gate" and run.human.workflow_key == "prepare_flow"
    assert run.visited == []
    run.resume("edited outline", "edited")
    assert run.human is not None and run.human.step_id == "approve" and run.human.input_text == "Draft: edited outline"
    run.resume("ok")
    assert run.status == "completed" and run.output == "Published: ok"


def test_nested_human_in_concurrent_children_waits_for_siblings() -> None:
    plan = compiled("nested_workflows")
    human = {"id": "gate", "kind": "human", "ref": "approver", "on_error": "fail", "max_retries": 0}
    plan["humans"] = {"approver": {}}
    plan["workflows"]["review_flow"]["participants"][0] = {**human}
    run = Driver(plan, lifo=True).start("q3")
    assert run.human is not None and run.human.step_id == "gate"
    assert "check" in run.executed, "the sibling drained before the block"
    run.resume("gate ok")
    assert run.status == "completed" and run.visited == ["research", "review", "publish"]
