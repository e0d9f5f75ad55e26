"""Execute one claimed unit: an agent turn or an allowlisted function; never touches the database."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kneo.agents.offline import run_offline_agent
from kneo.specs import module_allowed
from kneo.workflows.steps import ClaimedStep, StepOutcome


class StepExecutionError(Exception):
    """A step failed in a way its error policy handles."""


class ImplementationNotAllowed(StepExecutionError):
    """A spec named a callable outside the operator's allowlist."""


def resolve_callable(implementation: str, allowed_modules: Sequence[str]) -> Callable[..., Any]:
    """Import ``module.attr`` only when the module is allowlisted."""
    if not module_allowed(implementation.rpartition(".")[0], allowed_modules):
        raise ImplementationNotAllowed(
            f"Implementation '{implementation}' is not in an allowed module (KNEO_SERV_ALLOWED_MODULES)."
        )
    module_name, _, attribute = implementation.rpartition(".")
    target = getattr(importlib.import_module(module_name), attribute)
    if not callable(target):
        raise StepExecutionError(f"Implementation '{implementation}' is not callable.")
    return target


def runs_inline(plan: Mapping[str, Any], kind: str, ref: str | None) -> bool:
    """True for units that cannot block: offline (bridge) agents without tools."""
    if kind not in ("agent", "guardrail"):
        return False
    agent = plan.get("agents", {}).get(ref or "")
    if agent is None or agent.get("tools"):
        return False
    return (agent.get("runtime") or {}).get("preferred_mode", "bridge") == "bridge"


def execute_unit(
    claimed: ClaimedStep,
    allowed_modules: Sequence[str],
    should_stop: Callable[[], bool] | None = None,
) -> StepOutcome:
    """Run the unit and return its outcome; exceptions become a failed outcome."""
    try:
        if claimed.kind in ("agent", "guardrail"):
            return _run_agent(claimed, allowed_modules, should_stop)
        if claimed.kind == "function":
            return _run_function(claimed, allowed_modules)
        raise StepExecutionError(f"Unsupported step kind: {claimed.kind}")
    except Exception as exc:
        return StepOutcome(error={"message": str(exc), "type": type(exc).__name__})


def _run_function(claimed: ClaimedStep, allowed_modules: Sequence[str]) -> StepOutcome:
    function = claimed.plan.get("functions", {}).get(claimed.ref or "")
    if function is None:
        raise StepExecutionError(f"Unknown function component: {claimed.ref}")
    result = resolve_callable(function["implementation"], allowed_modules)(claimed.input_text)
    return StepOutcome(output_text=str(result))


def _tool_handlers(plan: Mapping[str, Any], allowed_modules: Sequence[str]) -> dict[str, Callable[..., Any]]:
    handlers = {}
    for name, tool in (plan.get("tools") or {}).items():
        implementation = tool.get("implementation")
        if implementation and module_allowed(implementation.rpartition(".")[0], allowed_modules):
            handlers[name] = resolve_callable(implementation, allowed_modules)
    return handlers


def _run_agent(
    claimed: ClaimedStep, allowed_modules: Sequence[str], should_stop: Callable[[], bool] | None
) -> StepOutcome:
    agent = claimed.plan["agents"].get(claimed.ref or "")
    if agent is None:
        raise StepExecutionError(f"Unknown agent component: {claimed.ref}")
    mode = (agent.get("runtime") or {}).get("preferred_mode") or "bridge"
    if mode != "bridge":
        raise StepExecutionError(
            f"Unable to bind runtime for agent {agent['name']}: preferred_mode={mode}. "
            "Use preferred_mode=bridge or configure a provider."
        )
    handlers = _tool_handlers(claimed.plan, allowed_modules) if agent.get("tools") else {}
    result = run_offline_agent(agent, claimed.input_text, handlers, should_stop)
    common = {"agent_name": agent["name"], "runtime_mode": "bridge"}
    events = [
        {"type": "run_started", **common, "input_text": claimed.input_text, "metadata": {"message_count": 1}},
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
