"""Operator caps on what one spec may ask for: loop counts, size, nesting and time.

A spec is untrusted input: without caps, ``rounds: 1e12`` or a 5,000-step graph would occupy
workers for hours. Every cap breaks validation with ``E_SPEC_LIMIT`` at the offending path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import Diagnostic, error
from .walk import ROOT, agent_entries, workflow_entries, workflow_steps

LIMIT_CODE = "E_SPEC_LIMIT"


@dataclass(frozen=True)
class SpecBounds:
    """The caps (``KNEO_SERV_MAX_*`` settings) with their defaults."""

    max_group_chat_rounds: int = 100
    max_iterations: int = 100
    max_graph_steps: int = 1_000
    max_spec_steps: int = 500
    max_workflow_depth: int = 8
    max_document_depth: int = 32
    max_timeout_seconds: int = 2_592_000

    def settings(self) -> dict[str, int]:
        """Each cap under the name of its ``KNEO_SERV_*`` variable."""
        return {f"KNEO_SERV_{name.upper()}": getattr(self, name) for name in self.__dataclass_fields__}


DEFAULT_BOUNDS = SpecBounds()


def _exceeds(value: Any, cap: int) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > cap


def _limit(path: str, what: str, value: Any, cap: int, setting: str) -> Diagnostic:
    return error(
        LIMIT_CODE,
        f"{what} is {value}, above this service's limit of {cap}.",
        path,
        f"Lower it to at most {cap} (the operator sets {setting}).",
    )


def document_depth(value: Any, cap: int) -> int:
    """Nesting depth of mappings and lists, counted up to ``cap + 1``.

    Iterative, so a deep document cannot exhaust the stack; a container met twice (a shared or
    self-referencing value) is walked once.
    """
    deepest, stack, seen = 0, [(value, 1)], set()
    while stack and deepest <= cap:
        node, depth = stack.pop()
        if isinstance(node, dict | list) and id(node) not in seen:
            seen.add(id(node))
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def depth_diagnostics(raw: Any, bounds: SpecBounds) -> list[Diagnostic]:
    """The document-depth cap, checked before anything walks the document recursively."""
    cap = bounds.max_document_depth
    if document_depth(raw, cap) <= cap:
        return []
    return [
        error(
            LIMIT_CODE,
            f"The document nests deeper than this service's limit of {cap} levels.",
            "(root)",
            f"Flatten it to at most {cap} levels (the operator sets KNEO_SERV_MAX_DOCUMENT_DEPTH).",
        )
    ]


def _loop_caps(path: str, workflow: dict[str, Any], bounds: SpecBounds) -> Iterator[Diagnostic]:
    if workflow["type"] == "graph" and _exceeds(workflow.get("max_steps"), bounds.max_graph_steps):
        yield _limit(
            f"{path}.max_steps", "max_steps", workflow["max_steps"], bounds.max_graph_steps, "KNEO_SERV_MAX_GRAPH_STEPS"
        )
    if _exceeds(workflow.get("max_iterations"), bounds.max_iterations):
        yield _limit(
            f"{path}.max_iterations",
            "max_iterations",
            workflow["max_iterations"],
            bounds.max_iterations,
            "KNEO_SERV_MAX_ITERATIONS",
        )
    if workflow["type"] == "group-chat" and _exceeds(workflow.get("rounds"), bounds.max_group_chat_rounds):
        yield _limit(
            f"{path}.rounds",
            "rounds",
            workflow["rounds"],
            bounds.max_group_chat_rounds,
            "KNEO_SERV_MAX_GROUP_CHAT_ROUNDS",
        )


def _timeouts(spec: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(path, seconds)`` of every time a spec sets: steps, humans, models and MCP servers."""
    for path, _key, workflow in workflow_entries(spec):
        for step_path, _id, step in workflow_steps(path, workflow):
            yield f"{step_path}.timeout_seconds", step.get("timeout_seconds")
            yield f"{step_path}.retry_backoff_seconds", step.get("retry_backoff_seconds")
    for name, human in spec["components"]["humans"].items():
        yield f"components.humans.{name}.timeout_seconds", human.get("timeout_seconds")
    for path, _key, agent in agent_entries(spec):
        yield f"{path}.model.timeout_seconds", (agent.get("model") or {}).get("timeout_seconds")
    for name, server in spec["mcp_servers"].items():
        for field in ("timeout", "sse_read_timeout"):
            yield f"mcp_servers.{name}.{field}", server.get(field)


def _workflow_depths(spec: dict[str, Any]) -> dict[str, int]:
    """How many workflows deep each workflow nests through workflow steps (iterative; a cycle counts once)."""
    workflows = dict(spec["components"]["workflows"])
    if spec.get("workflow") is not None:
        workflows[ROOT] = spec["workflow"]
    refs = {
        key: {s["ref"] for _p, _i, s in workflow_steps("", wf) if s["kind"] == "workflow" and s["ref"] in workflows}
        for key, wf in workflows.items()
    }
    depths: dict[str, int] = {}
    for root in workflows:
        if root in depths:
            continue
        stack, open_ = [root], {root}
        while stack:
            key = stack[-1]
            child = next((r for r in refs[key] if r not in depths and r not in open_), None)
            if child is not None:
                stack.append(child)
                open_.add(child)
                continue
            stack.pop()
            open_.discard(key)
            depths[key] = 1 + max((depths.get(r, 0) for r in refs[key]), default=0)
    return depths


def bounds_diagnostics(spec: dict[str, Any], bounds: SpecBounds) -> list[Diagnostic]:
    """Every cap a schema-valid spec breaks."""
    out: list[Diagnostic] = []
    total = 0
    depths = _workflow_depths(spec)
    for path, key, workflow in workflow_entries(spec):
        out += _loop_caps(path, workflow, bounds)
        total += sum(1 for _ in workflow_steps(path, workflow))
        depth = depths.get(key, 0)
        if depth > bounds.max_workflow_depth:
            out.append(
                _limit(path, "Workflow nesting depth", depth, bounds.max_workflow_depth, "KNEO_SERV_MAX_WORKFLOW_DEPTH")
            )
    if total > bounds.max_spec_steps:
        out.append(_limit("workflow", "The number of steps", total, bounds.max_spec_steps, "KNEO_SERV_MAX_SPEC_STEPS"))
    for path, _key, agent in agent_entries(spec):
        iterations = (agent.get("strategy") or {}).get("max_iterations")
        if _exceeds(iterations, bounds.max_iterations):
            out.append(
                _limit(
                    f"{path}.strategy.max_iterations",
                    "max_iterations",
                    iterations,
                    bounds.max_iterations,
                    "KNEO_SERV_MAX_ITERATIONS",
                )
            )
    out += [
        _limit(path, "A time limit", seconds, bounds.max_timeout_seconds, "KNEO_SERV_MAX_TIMEOUT_SECONDS")
        for path, seconds in _timeouts(spec)
        if _exceeds(seconds, bounds.max_timeout_seconds)
    ]
    return out
