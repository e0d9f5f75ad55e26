"""The bridge runtime: the deterministic offline model with allowlisted Python tool handlers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kneo.agents import guardrails
from kneo.agents.callables import resolve_callable
from kneo.agents.offline import run_offline_agent
from kneo.agents.request import AgentRequest, RunAgent
from kneo.agents.tools import Components
from kneo.execution import StepOutcome
from kneo.specs import module_allowed


def _tool_handlers(plan: Mapping[str, Any], allowed_modules: Sequence[str]) -> dict[str, Callable[..., Any]]:
    handlers = {}
    for name, tool in (plan.get("tools") or {}).items():
        implementation = tool.get("implementation")
        if implementation and module_allowed(implementation.rpartition(".")[0], allowed_modules):
            handlers[name] = resolve_callable(implementation, allowed_modules)
    return handlers


def run_bridge(request: AgentRequest, run_nested: RunAgent) -> StepOutcome:
    """Run the offline model, with the agent's input and output guardrails around it."""
    agent = request.agent
    handlers = _tool_handlers(request.plan, request.allowed_modules) if agent.get("tools") else {}
    common = {"agent_name": agent["name"], "runtime_mode": "bridge"}
    checks: list[dict[str, Any]] = []
    components = Components(request, run_nested, checks)

    def stage(name: str, text: str) -> str:
        items = (agent.get("guardrails") or {}).get(name) or []
        if not items:
            return text
        return guardrails.apply(name, items, text, checks, components.call, components.agent_text, **common)

    input_text = stage("input", request.input_text)
    result = run_offline_agent(agent, input_text, handlers, request.should_stop)
    output_text = stage("output", result.output_text)
    events = [
        {"type": "run_started", **common, "input_text": input_text, "metadata": {"message_count": 1}},
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
        *checks,
        {
            "type": "run_completed",
            **common,
            "output_text": output_text,
            "metadata": {
                "message_count": len(result.messages),
                "iterations": result.iterations,
                **({"plan": result.plan} if result.plan is not None else {}),
            },
        },
    ]
    return StepOutcome(output_text=output_text, events=events, messages=result.messages)
