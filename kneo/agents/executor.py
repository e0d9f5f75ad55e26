"""Execute one claimed unit: an agent turn or an allowlisted function; never touches the database."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kneo.agents import guardrails
from kneo.agents.request import AgentRequest
from kneo.agents.runtime import agent_settings, run_agent
from kneo.agents.tools import Components
from kneo.execution import ClaimedStep, StepOutcome
from kneo.specs import module_allowed


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
    """True for units that cannot block: offline (bridge) agents without tools or callable guardrails.

    Native agents (model calls), agents with tools (MCP, Python, agent tools) and guardrails that
    call a function or an agent can block, so they always go through Celery with their own time limits.
    """
    if kind not in ("agent", "guardrail"):
        return False
    agent = plan.get("agents", {}).get(ref or "")
    if agent is None or agent.get("tools"):
        return False
    root = plan.get("agents", {}).get(plan.get("root_agent") or "__root__") or {}
    checks = [item for items in (agent.get("guardrails") or {}).values() for item in items or []]
    checks += (root.get("guardrails") or {}).get("workflow") or []
    if any(item.get("type") not in ("keyword", "regex") for item in checks):
        return False
    return (agent.get("runtime") or {}).get("preferred_mode", "bridge") == "bridge"


def execute_unit(
    claimed: ClaimedStep,
    allowed_modules: Sequence[str],
    should_stop: Callable[[], bool] | None = None,
) -> StepOutcome:
    """Run the unit and return its outcome; exceptions become a failed outcome.

    The root agent's ``workflow``-stage guardrails check every step output of the workflow.
    """
    try:
        if claimed.kind in ("agent", "guardrail"):
            outcome = _run_agent(claimed, allowed_modules, should_stop)
        elif claimed.kind == "function":
            outcome = _run_function(claimed, allowed_modules)
        else:
            raise StepExecutionError(f"Unsupported step kind: {claimed.kind}")
        return _workflow_guardrails(claimed, outcome, allowed_modules)
    except Exception as exc:
        return StepOutcome(error={"message": str(exc), "type": type(exc).__name__})


def _workflow_guardrails(claimed: ClaimedStep, outcome: StepOutcome, allowed_modules: Sequence[str]) -> StepOutcome:
    root = claimed.plan.get("agents", {}).get(claimed.plan.get("root_agent") or "__root__") or {}
    items = (root.get("guardrails") or {}).get("workflow") or []
    if not items or outcome.error is not None or claimed.plan.get("root_workflow") is None:
        return outcome
    request = AgentRequest(
        plan=claimed.plan, agent=root, input_text=claimed.input_text, allowed_modules=allowed_modules
    )
    components = Components(request, run_agent, outcome.events)
    outcome.output_text = guardrails.apply(
        "workflow",
        items,
        outcome.output_text or "",
        outcome.events,
        components.call,
        components.agent_text,
        step_id=claimed.step_id,
        agent_name=root.get("name"),
    )
    return outcome


def _run_function(claimed: ClaimedStep, allowed_modules: Sequence[str]) -> StepOutcome:
    function = claimed.plan.get("functions", {}).get(claimed.ref or "")
    if function is None:
        raise StepExecutionError(f"Unknown function component: {claimed.ref}")
    result = resolve_callable(function["implementation"], allowed_modules)(claimed.input_text)
    return StepOutcome(output_text=str(result))


def _run_agent(
    claimed: ClaimedStep, allowed_modules: Sequence[str], should_stop: Callable[[], bool] | None
) -> StepOutcome:
    """Dispatch the agent to its runtime (bridge, native; see :mod:`kneo.agents.runtime`)."""
    agent = claimed.plan["agents"].get(claimed.ref or "")
    if agent is None:
        raise StepExecutionError(f"Unknown agent component: {claimed.ref}")
    request = AgentRequest(
        plan=claimed.plan,
        agent=agent,
        input_text=claimed.input_text,
        allowed_modules=allowed_modules,
        settings=agent_settings(),
        should_stop=should_stop,
        step_timeout_seconds=claimed.timeout_seconds,
    )
    return run_agent(request)
