"""Checks that compilation adds to validation: what a plan needs in order to run.

1.2.0 validates these shapes leniently and fails later, while building; kneo reports them as
diagnostics when it compiles a spec (``/specs/compile``, runs, graphs), never from ``/specs/validate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import Diagnostic, error
from .patterns import MAX_PATTERNS, pattern_problem
from .walk import agent_entries, guardrail_stages, has_human_step, workflow_entries, workflow_steps

GUARDRAIL_TYPES = ("keyword", "regex", "function", "agent")
MEMORY_POLICIES = ("full", "sliding_window", "summary", "retrieval")


def _component_exists(spec: dict[str, Any], ref: Any, buckets: Sequence[str]) -> bool:
    comps = spec["components"]
    return isinstance(ref, str) and any(ref in (spec["tools"] if b == "tools" else comps[b]) for b in buckets)


def _config_problem(kind: str, config: Any) -> str | None:
    if config is None:
        config = {}
    if not isinstance(config, dict):
        return "requires 'config' to be an object"
    field = "keywords" if kind == "keyword" else "patterns"
    values = config.get(field, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return f"of type '{kind}' requires config.{field} to be a list of strings"
    if kind == "regex":
        if len(values) > MAX_PATTERNS:
            return f"of type 'regex' may list at most {MAX_PATTERNS} patterns"
        return next((problem for pattern in values if (problem := pattern_problem(pattern))), None)
    return None


def _guardrail_problem(spec: dict[str, Any], item: dict[str, Any]) -> str | None:
    kind = item.get("type")
    if not isinstance(item.get("id"), str):
        return "requires a string 'id'"
    if kind not in GUARDRAIL_TYPES:
        return f"requires 'type' to be one of {', '.join(GUARDRAIL_TYPES)}"
    if kind == "function" and not _component_exists(spec, item.get("ref"), ("functions", "tools")):
        return "of type 'function' requires 'ref' naming a function component or tool"
    if kind == "agent" and not _component_exists(spec, item.get("ref"), ("agents",)):
        return "of type 'agent' requires 'ref' naming an agent component"
    if kind in ("keyword", "regex"):
        return _config_problem(kind, item.get("config"))
    return None


def _guardrails(spec: dict[str, Any], path: str, agent: dict[str, Any]) -> list[Diagnostic]:
    return [
        error(
            "E_GUARDRAIL_FIELDS",
            f"Guardrail {problem}.",
            f"{path}.guardrails.{stage}[{index}]",
            "Give every guardrail a string id, a supported type and its required fields.",
        )
        for stage, items in guardrail_stages(agent).items()
        for index, item in enumerate(items)
        if isinstance(item, dict) and (problem := _guardrail_problem(spec, item))
    ]


def _memory(spec: dict[str, Any], path: str, memory: dict[str, Any]) -> list[Diagnostic]:
    policy = memory.get("policy")
    if policy not in MEMORY_POLICIES:
        return [
            error(
                "E_MEMORY_POLICY_REQUIRED",
                f"Unknown memory policy '{policy}'.",
                f"{path}.memory.policy",
                f"Set memory.policy to one of {', '.join(MEMORY_POLICIES)}.",
            )
        ]
    field = {"summary": "summarizer", "retrieval": "retriever"}.get(policy)
    block = memory.get(field) if field else None
    ref = block.get("ref") if isinstance(block, dict) else None
    if field and not _component_exists(spec, ref, ("agents", "functions")):
        return [
            error(
                "E_MEMORY_POLICY_REQUIRED",
                f"Memory policy '{policy}' requires {field}.ref naming an agent or function component.",
                f"{path}.memory.{field}",
                f"Set memory.{field}.ref.",
            )
        ]
    return []


def _as_agent_human(path: str, agent: dict[str, Any], workflows: dict[str, Any]) -> list[Diagnostic]:
    target = agent.get("as_agent")
    if not target or target not in workflows or not has_human_step(workflows[target]):
        return []
    return [
        error(
            "E_STEP_WORKFLOW_NESTED_HUMAN",
            f"Workflow '{target}' behind a workflow-backed agent contains a human step.",
            f"{path}.as_agent",
            "Remove the human step from that workflow.",
        )
    ]


def _guardrail_steps(spec: dict[str, Any]) -> list[Diagnostic]:
    agents = spec["components"]["agents"]
    return [
        error(
            "E_STEP_AGENT_REF",
            f"Agent component '{step['ref']}' is referenced but not defined.",
            f"{step_path}.ref",
            "Add it under components.agents.",
        )
        for path, _key, workflow in workflow_entries(spec)
        for step_path, _id, step in workflow_steps(path, workflow)
        if step["kind"] == "guardrail" and step["enabled"] and step["ref"] not in agents
    ]


def build_diagnostics(spec: dict[str, Any]) -> list[Diagnostic]:
    """Errors that make a validated spec impossible to run (guardrails, memory, nested humans)."""
    out: list[Diagnostic] = []
    workflows = spec["components"]["workflows"]
    for path, _key, agent in agent_entries(spec):
        out += _guardrails(spec, path, agent)
        if agent.get("memory"):
            out += _memory(spec, path, agent["memory"])
        out += _as_agent_human(path, agent, workflows)
    return out + _guardrail_steps(spec)
