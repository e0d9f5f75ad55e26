"""Building the JSON-serialisable execution plan from a validated, defaults-filled spec."""

from __future__ import annotations

import copy
from typing import Any

from kneo.sandbox import SkillRoot

from .schema import APPEND_MODES
from .skills import load_skill
from .walk import ROOT, guardrail_stages

PLAN_VERSION = 1
DEFAULT_WORKFLOW_NAMES = {
    "sequential": "sequential-workflow",
    "graph": "graph-workflow",
    "concurrent": "concurrent-workflow",
    "handoff": "handoff-workflow",
    "group-chat": "group-chat-workflow",
}
PERMISSION_FIELDS = (
    "allow_network",
    "allow_filesystem_read",
    "allow_filesystem_write",
    "allow_shell",
    "allowed_domains",
    "denied_domains",
)


def _step(step: dict[str, Any], step_id: str | None = None) -> dict[str, Any]:
    return {
        "id": step_id if step_id is not None else step["id"],
        "kind": step["kind"],
        "ref": step["ref"],
        "on_error": step["on_error"],
        "fallback_ref": step.get("fallback_ref"),
        "max_retries": max(step["max_retries"], 0),
        "timeout_seconds": step.get("timeout_seconds"),
        "retry_backoff_seconds": step.get("retry_backoff_seconds"),
    }


def _guardrail(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "type": item["type"],
        "action": item.get("action") or "block",
        "mode": item.get("mode") or "middleware",
        "ref": item.get("ref"),
        "target": item.get("target"),
        "config": copy.deepcopy(item.get("config") or {}),
    }


def _append_mode(agent: dict[str, Any]) -> str:
    mode = (agent.get("defaults") or {}).get("append_mode")
    return mode if mode in APPEND_MODES else "auto"


def agent_plan(key: str, agent: dict[str, Any]) -> dict[str, Any]:
    """Plan entry of one agent (root key ``__root__``)."""
    strategy = agent.get("strategy") or {}
    prefs = agent.get("runtime_preferences") or {}
    selection = agent.get("tools") or {}
    excluded = set(selection.get("exclude", []))
    offered = list(dict.fromkeys(n for n in selection.get("include", []) if n not in excluded))
    perms = selection.get("permissions")
    return {
        "key": key,
        "name": agent["name"],
        "description": agent.get("description"),
        "system_prompt": agent.get("system_prompt") or "",
        "model": copy.deepcopy(agent["model"]) if agent.get("model") else None,
        "strategy": strategy.get("type", "simple"),
        "max_iterations": strategy.get("max_iterations"),
        "runtime": {
            "preferred_mode": prefs.get("preferred_mode") or "bridge",
            "allowed_modes": list(prefs["allowed_modes"]) if prefs.get("allowed_modes") is not None else None,
            "fallback_mode": prefs.get("fallback_mode"),
            "native_provider": prefs.get("native_provider"),
            "adapter_ref": prefs.get("adapter_ref"),
        },
        "tools": offered,
        "tool_permissions": {f: copy.deepcopy(perms.get(f)) for f in PERMISSION_FIELDS} if perms else None,
        "guardrails": {stage: [_guardrail(i) for i in items] for stage, items in guardrail_stages(agent).items()},
        "memory": copy.deepcopy(agent["memory"]) if agent.get("memory") else None,
        "skills": list(agent.get("skills", [])),
        "as_agent": agent.get("as_agent"),
        "append_mode": _append_mode(agent),
    }


def workflow_plan(key: str, wf: dict[str, Any]) -> dict[str, Any]:
    """Plan entry of one workflow; disabled steps, nodes and participants are dropped."""
    kind = wf["type"]
    plan: dict[str, Any] = {
        "key": key,
        "type": kind,
        "name": wf.get("name") or DEFAULT_WORKFLOW_NAMES[kind],
        "description": wf.get("description"),
    }
    if kind == "sequential":
        plan["steps"] = [_step(s) for s in wf["steps"] if s["enabled"]]
    elif kind == "graph":
        nodes = {k: _step(s, k) for k, s in wf["nodes"].items() if s["enabled"]}
        plan.update(
            {
                "start": wf["start"],
                "nodes": nodes,
                "node_order": list(nodes),  # JSONB does not keep the declaration order of keys
                "edges": [
                    {
                        "from": e["from"],
                        "to": e["to"],
                        "condition": copy.deepcopy(e.get("condition")),
                        "label": e.get("label"),
                    }
                    for e in wf["edges"]
                    if e["from"] in nodes and e["to"] in nodes
                ],
                "max_steps": wf["max_steps"],
            }
        )
    else:
        participants = [_step(s) for s in wf["participants"] if s["enabled"]]
        selector = rounds = None
        max_iterations = wf.get("max_iterations")
        if kind == "handoff":
            selector = {"type": wf["selector"]["type"], "sequence": list(wf["selector"]["sequence"])}
            if max_iterations is None:
                sequence = selector["sequence"] if selector["type"] == "sequence" else []
                max_iterations = len(sequence) or len(participants)
        elif kind == "group-chat":
            rounds = wf["rounds"]
            if max_iterations is None:
                max_iterations = len(participants) * rounds
        plan.update(
            {
                "participants": participants,
                "max_iterations": max_iterations,
                "selector": selector,
                "rounds": rounds,
            }
        )
    return plan


def human_plan(human: dict[str, Any]) -> dict[str, Any]:
    description = human.get("description")
    return {
        "description": description,
        "assignee": human.get("assignee"),
        "timeout_seconds": human.get("timeout_seconds"),
        "on_timeout": human["on_timeout"],
        "escalation_assignee": human.get("escalation_assignee"),
        "escalation_timeout_seconds": human.get("escalation_timeout_seconds"),
        "request_type": human["request_type"],
        "allow_edit": bool(human.get("allow_edit")),
        "options": list(human["options"]) if human.get("options") is not None else None,
        "default_option": human.get("default_option"),
        "response_role": human.get("response_role"),
        "context": copy.deepcopy(human.get("context")),
        "title": description or "Human review required",
        "prompt": description or "Please review this item.",
    }


def tool_plan(name: str, tool: dict[str, Any]) -> dict[str, Any]:
    mcp = tool.get("mcp")
    return {
        "description": tool["description"],
        "parameters": copy.deepcopy(tool.get("parameters") or {}),
        "implementation": tool.get("implementation"),
        "mcp": {"server": mcp.get("server"), "name": str(mcp.get("name") or name)} if mcp else None,
        "agent": tool.get("agent"),
    }


def skill_plan(name: str, skill: dict[str, Any], skills: SkillRoot | None) -> dict[str, Any]:
    if skills is not None:
        return load_skill(name, skill, skills)
    return {
        "name": name,
        "description": skill.get("description"),
        "instructions": None,
        "metadata": {},
        "source": skill["source"],
        "resources": [],
    }


def build_plan(
    spec: dict[str, Any], declared: dict[str, Any], *, target: str, skills: SkillRoot | None
) -> dict[str, Any]:
    """Assemble the plan. ``spec`` is defaults-filled; ``declared`` the normalised document."""
    comps = spec["components"]
    agents = {ROOT: agent_plan(ROOT, spec["agent"])}
    agents.update({k: agent_plan(k, a) for k, a in comps["agents"].items()})
    workflows: dict[str, Any] = {}
    if spec.get("workflow") is not None:
        workflows[ROOT] = workflow_plan(ROOT, spec["workflow"])
    workflows.update({k: workflow_plan(k, w) for k, w in comps["workflows"].items()})
    use_workflow = target == "workflow" and spec.get("workflow") is not None
    metadata = spec.get("metadata") or {}
    spec_name = metadata.get("name")
    return {
        "plan_version": PLAN_VERSION,
        "target": "workflow" if use_workflow else "agent",
        "root_agent": ROOT,
        "root_workflow": ROOT if use_workflow else None,
        "agents": agents,
        "workflows": workflows,
        "functions": {k: {"implementation": f["implementation"]} for k, f in comps["functions"].items()},
        "humans": {k: human_plan(h) for k, h in comps["humans"].items()},
        "tools": {k: tool_plan(k, t) for k, t in spec["tools"].items()},
        "mcp_servers": copy.deepcopy(declared.get("mcp_servers") or {}),
        "skills": {k: skill_plan(k, s, skills) for k, s in spec["skills"].items()},
        "spec_name": spec_name if isinstance(spec_name, str) else None,
    }
