"""The bridge runtime: the deterministic offline model with allowlisted Python tool handlers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kneo.agents.callables import resolve_callable
from kneo.agents.offline import run_offline_agent
from kneo.agents.runtime import AgentRequest
from kneo.specs import module_allowed
from kneo.workflows.steps import StepOutcome


def _tool_handlers(plan: Mapping[str, Any], allowed_modules: Sequence[str]) -> dict[str, Callable[..., Any]]:
    handlers = {}
    for name, tool in (plan.get("tools") or {}).items():
        implementation = tool.get("implementation")
        if implementation and module_allowed(implementation.rpartition(".")[0], allowed_modules):
            handlers[name] = resolve_callable(implementation, allowed_modules)
    return handlers


def run_bridge(request: AgentRequest) -> StepOutcome:
    agent = request.agent
    handlers = _tool_handlers(request.plan, request.allowed_modules) if agent.get("tools") else {}
    result = run_offline_agent(agent, request.input_text, handlers, request.should_stop)
    common = {"agent_name": agent["name"], "runtime_mode": "bridge"}
    events = [
        {"type": "run_started", **common, "input_text": request.input_text, "metadata": {"message_count": 1}},
        *(
            {
                "type": "tool_called",
                **common,
                "tool_name": c["name"],
                "metadata": {"arguments": c["arguments"]},
                "output_text": c.get("output"),
            }
            for c in result.tool_calls
        ),
        {
            "type": "run_completed",
            **common,
            "output_text": result.output_text,
            "metadata": {"message_count": len(result.messages), "iterations": result.iterations},
        },
    ]
    return StepOutcome(output_text=result.output_text, events=events, messages=result.messages)
