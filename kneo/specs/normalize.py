"""Shorthand expansion applied after migration and before schema validation (spec-format §3.2)."""

from __future__ import annotations

from typing import Any


def _normalize_agent(agent: Any) -> None:
    if not isinstance(agent, dict):
        return
    strategy = agent.get("strategy")
    if isinstance(strategy, str):
        agent["strategy"] = {"type": strategy}
    tools = agent.get("tools")
    if isinstance(tools, list):
        agent["tools"] = {"include": tools}
    model = agent.get("model")
    if isinstance(model, str):
        agent["model"] = {"name": model, "provider": "default"}
    agent.setdefault("defaults", {})


def normalize_document(doc: dict[str, Any]) -> dict[str, Any]:
    """Expand shorthands in place on a migrated document and return it.

    Defensive: shapes that do not match are left for the schema validator to report.
    """
    _normalize_agent(doc.get("agent"))
    doc.setdefault("components", {})
    components = doc.get("components")
    if isinstance(components, dict):
        agents = components.get("agents")
        if isinstance(agents, dict):
            for agent in agents.values():
                _normalize_agent(agent)
    workflow = doc.get("workflow")
    if isinstance(workflow, dict):
        kind = workflow.get("type")
        steps = workflow.get("steps") or []
        if kind == "sequential" and isinstance(steps, list):
            workflow["steps"] = [
                {"id": step, "kind": "agent", "ref": step} if isinstance(step, str) else step for step in steps
            ]
        elif kind == "graph":
            workflow.setdefault("max_steps", 50)
    return doc
