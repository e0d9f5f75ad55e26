"""The deterministic offline runtime (spec-corpus §3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kneo.agents.offline import SEARCH_REQUEST, SEARCH_TOOL, run_offline_agent


def agent(tools: list[str] | None = None, strategy: str | None = "react") -> dict[str, Any]:
    return {"name": "researcher", "tools": tools or [], "strategy": strategy}


@pytest.mark.parametrize("text", ["hello", "", "Search without tools", "multi\nline"])
def test_no_tools_answers_final_answer(text: str) -> None:
    result = run_offline_agent(agent(), text)
    assert result.output_text == f"Final answer: {text}"
    assert result.iterations == 1 and result.tool_calls == []
    assert [m["role"] for m in result.messages] == ["user", "assistant"]
    assert result.messages[0]["content"] == text
    assert result.messages[-1]["name"] == "researcher"


def test_tools_without_search_in_input_answer_directly() -> None:
    result = run_offline_agent(agent([SEARCH_TOOL]), "what is the weather")
    assert result.output_text == "Final answer: what is the weather"
    assert result.tool_calls == []


def test_simple_strategy_stops_at_the_search_request() -> None:
    result = run_offline_agent(agent([SEARCH_TOOL], strategy="simple"), "please search kneo")
    assert result.output_text == SEARCH_REQUEST == "I need to search."
    assert result.iterations == 1
    assert result.tool_calls == [{"name": SEARCH_TOOL, "arguments": {"query": "please search kneo"}}]


def test_missing_strategy_defaults_to_simple() -> None:
    result = run_offline_agent(agent([SEARCH_TOOL], strategy=None), "search it")
    assert result.output_text == SEARCH_REQUEST


def test_tool_not_offered_is_echoed_and_its_handler_never_called() -> None:
    called: list[object] = []
    result = run_offline_agent(agent(["calculator"]), "SEARCH for x", {SEARCH_TOOL: called.append})
    echo = f"{SEARCH_TOOL}: {{'query': 'SEARCH for x'}}"
    assert result.output_text == f"Final answer based on tool results: {echo}"
    assert called == []


def test_react_without_handler_echoes_the_tool_call() -> None:
    result = run_offline_agent(agent([SEARCH_TOOL]), "Search the docs")
    echo = f"{SEARCH_TOOL}: {{'query': 'Search the docs'}}"
    assert result.output_text == f"Final answer based on tool results: {echo}"
    assert result.iterations == 2
    assert result.tool_calls == [{"name": SEARCH_TOOL, "arguments": {"query": "Search the docs"}, "output": echo}]
    assert [m["role"] for m in result.messages] == ["user", "assistant", "tool", "assistant"]
    assert result.messages[2]["name"] == SEARCH_TOOL


def test_react_uses_the_tool_handler_when_given() -> None:
    seen: list[Mapping[str, Any]] = []

    def handler(arguments: Mapping[str, Any]) -> Any:
        seen.append(arguments)
        return 42

    result = run_offline_agent(agent([SEARCH_TOOL]), "search answers", tool_handlers={SEARCH_TOOL: handler})
    assert seen == [{"query": "search answers"}]
    assert result.output_text == "Final answer based on tool results: 42"
    assert result.tool_calls[0]["output"] == "42"


def test_handler_for_another_tool_is_ignored() -> None:
    result = run_offline_agent(agent([SEARCH_TOOL]), "search", tool_handlers={"other": lambda _a: "nope"})
    assert "nope" not in result.output_text
    assert result.output_text.startswith("Final answer based on tool results: web_search:")


def test_should_stop_interrupts_before_the_tool_call() -> None:
    called: list[bool] = []

    def handler(_arguments: Mapping[str, Any]) -> str:
        called.append(True)
        return "x"

    result = run_offline_agent(agent([SEARCH_TOOL]), "search", {SEARCH_TOOL: handler}, should_stop=lambda: True)
    assert result.output_text == SEARCH_REQUEST and called == []


def test_output_is_a_pure_function_of_input() -> None:
    first = run_offline_agent(agent([SEARCH_TOOL]), "search twice")
    second = run_offline_agent(agent([SEARCH_TOOL]), "search twice")
    assert first == second


def test_plan_act_plans_first_with_one_more_model_call() -> None:
    result = run_offline_agent(agent(strategy="plan-act"), "quarterly metrics")
    assert result.plan == "Final answer: quarterly metrics"
    assert result.output_text == "Final answer: quarterly metrics"
    assert result.iterations == 2
    assert run_offline_agent(agent(strategy="react"), "quarterly metrics").plan is None
