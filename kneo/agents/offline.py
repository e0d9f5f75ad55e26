"""The deterministic offline runtime used by agents in ``bridge`` mode (spec-corpus §3).

It needs no network and no key: an agent answers ``Final answer: <input>``; when it has tools
and the input mentions "search" it first asks for a ``web_search`` tool call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ToolHandler = Callable[[Mapping[str, Any]], Any]

SEARCH_REQUEST = "I need to search."
SEARCH_TOOL = "web_search"


@dataclass
class AgentResult:
    """What one agent invocation produced."""

    output_text: str
    iterations: int
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    plan: str | None = None


def run_offline_agent(
    agent: Mapping[str, Any],
    input_text: str,
    tool_handlers: Mapping[str, ToolHandler] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AgentResult:
    """Run ``agent`` (an AgentPlan) on ``input_text``; ``plan-act`` first plans (one more model
    call, which the offline model answers like any other)."""
    result = _answer(agent, input_text, tool_handlers, should_stop)
    if (agent.get("strategy") or "simple") == "plan-act":
        result.plan = f"Final answer: {input_text}"
        result.iterations += 1
    return result


def _answer(
    agent: Mapping[str, Any],
    input_text: str,
    tool_handlers: Mapping[str, ToolHandler] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AgentResult:
    """Answer ``input_text`` with the deterministic offline model."""
    offered = list(agent.get("tools") or [])
    strategy = agent.get("strategy") or "simple"
    messages: list[dict[str, Any]] = [_message("user", input_text)]
    if not offered or "search" not in input_text.lower():
        messages.append(_message("assistant", f"Final answer: {input_text}", agent.get("name")))
        return AgentResult(messages[-1]["content"], 1, [], messages)
    arguments: dict[str, Any] = {"query": input_text}
    call: dict[str, Any] = {"name": SEARCH_TOOL, "arguments": arguments}
    messages.append(_message("assistant", SEARCH_REQUEST, agent.get("name"), [call]))
    if strategy == "simple":
        return AgentResult(SEARCH_REQUEST, 1, [call], messages)
    if should_stop is not None and should_stop():
        return AgentResult(SEARCH_REQUEST, 1, [call], messages)
    handler = (tool_handlers or {}).get(SEARCH_TOOL) if SEARCH_TOOL in offered else None
    tool_output = str(handler(arguments)) if handler else f"{SEARCH_TOOL}: {arguments}"
    messages.append(_message("tool", tool_output, SEARCH_TOOL))
    final = f"Final answer based on tool results: {tool_output}"
    messages.append(_message("assistant", final, agent.get("name")))
    return AgentResult(final, 2, [dict(call, output=tool_output)], messages)


def _message(
    role: str, content: str, name: str | None = None, tool_calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    metadata = {"tool_calls": list(tool_calls or [])}
    return {"role": role, "content": content, "name": name, "tool_call_id": None, "metadata": metadata}
