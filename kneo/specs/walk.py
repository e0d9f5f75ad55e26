"""Helpers to iterate the agents, workflows and steps of a schema-validated spec."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

ROOT = "__root__"
ORCHESTRATION_TYPES = ("concurrent", "handoff", "group-chat")
GUARDRAIL_STAGES = ("input", "output", "tool", "workflow")


def agent_entries(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(path, key, agent)`` for the root agent then component agents (alphabetical)."""
    entries = [("agent", ROOT, spec["agent"])]
    agents = spec["components"]["agents"]
    entries += [(f"components.agents.{key}", key, agents[key]) for key in sorted(agents)]
    return entries


def workflow_entries(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(path, key, workflow)`` for the root workflow (if any) then component workflows."""
    entries: list[tuple[str, str, dict[str, Any]]] = []
    if spec.get("workflow") is not None:
        entries.append(("workflow", ROOT, spec["workflow"]))
    workflows = spec["components"]["workflows"]
    entries += [(f"components.workflows.{key}", key, workflows[key]) for key in sorted(workflows)]
    return entries


def workflow_steps(path: str, workflow: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(step path, step id, step)`` for steps, graph nodes (id = node key) or participants."""
    kind = workflow["type"]
    if kind == "sequential":
        for index, step in enumerate(workflow["steps"]):
            yield f"{path}.steps[{index}]", step["id"], step
    elif kind == "graph":
        for key, step in workflow["nodes"].items():
            yield f"{path}.nodes.{key}", key, step
    else:
        for index, step in enumerate(workflow["participants"]):
            yield f"{path}.participants[{index}]", step["id"], step


def has_human_step(workflow: dict[str, Any]) -> bool:
    """True when any step / node / participant of ``workflow`` is of kind ``human``."""
    return any(step["kind"] == "human" for _, _, step in workflow_steps("", workflow))


def tool_selection(agent: dict[str, Any]) -> dict[str, Any] | None:
    """The agent's tool selection block (``None`` when absent)."""
    tools = agent.get("tools")
    return tools if isinstance(tools, dict) else None


def included_tools(agent: dict[str, Any]) -> list[str]:
    selection = tool_selection(agent)
    return list(selection["include"]) if selection else []


def guardrail_stages(agent: dict[str, Any]) -> dict[str, list[Any]]:
    """Stage name → list of items for the four known stages (other keys are ignored).

    A stage value is iterated as 1.2.0 does: a list gives its items, a string its characters, a
    mapping its keys, ``None`` nothing; any other value is one (invalid) item.
    """
    guardrails = agent.get("guardrails") or {}
    return {stage: _stage_items(guardrails.get(stage)) for stage in GUARDRAIL_STAGES}


def _stage_items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | str | dict):
        return list(value)
    return [value]
