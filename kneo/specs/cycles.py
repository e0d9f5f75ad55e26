"""Build-order dependency cycles between component agents, workflows and agent-backed tools."""

from __future__ import annotations

from typing import Any

from .errors import Diagnostic, error
from .walk import workflow_steps

Node = tuple[str, str]
_PATHS = {"agent": "components.agents.", "workflow": "components.workflows.", "tool": "tools."}


def dependency_graph(spec: dict[str, Any]) -> dict[Node, list[Node]]:
    """Edges ``node -> dependencies`` among component agents, component workflows and agent tools."""
    comps = spec["components"]
    graph: dict[Node, list[Node]] = {}
    for key, agent in comps["agents"].items():
        deps: list[Node] = []
        if agent.get("as_agent") in comps["workflows"]:
            deps.append(("workflow", agent["as_agent"]))
        selection = agent.get("tools") or {}
        for name in selection.get("include", []):
            tool = spec["tools"].get(name)
            if tool is not None and tool.get("agent") is not None:
                deps.append(("tool", name))
        graph[("agent", key)] = deps
    for name, tool in spec["tools"].items():
        if tool.get("agent") in comps["agents"]:
            graph[("tool", name)] = [("agent", tool["agent"])]
    for key, workflow in comps["workflows"].items():
        deps = []
        for _path, _id, step in workflow_steps("", workflow):
            if step["kind"] in ("agent", "guardrail") and step["ref"] in comps["agents"]:
                deps.append(("agent", step["ref"]))
            elif step["kind"] == "workflow" and step["ref"] in comps["workflows"] and step["ref"] != key:
                deps.append(("workflow", step["ref"]))
        graph[("workflow", key)] = deps
    return graph


def strongly_connected(graph: dict[Node, list[Node]]) -> list[list[Node]]:
    """Tarjan's algorithm (iterative); returns components with more than one node."""
    index: dict[Node, int] = {}
    low: dict[Node, int] = {}
    on_stack: set[Node] = set()
    stack: list[Node] = []
    result: list[list[Node]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[Node, int]] = [(root, 0)]
        while work:
            node, child_i = work.pop()
            if child_i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = graph.get(node, [])
            if child_i < len(children):
                work.append((node, child_i + 1))
                child = children[child_i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                members: list[Node] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1:
                    result.append(sorted(members))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result


def cycle_diagnostics(spec: dict[str, Any]) -> list[Diagnostic]:
    """One E_BUILD_CYCLE per dependency cycle (reported at ``components``, as 1.2.0 does)."""
    out: list[Diagnostic] = []
    for members in sorted(strongly_connected(dependency_graph(spec))):
        names = [_PATHS[kind] + key for kind, key in members]
        out.append(
            error(
                "E_BUILD_CYCLE",
                f"Build dependency cycle between {', '.join(names)}.",
                "components",
                "Break the cycle between agents, agent tools and workflows.",
            )
        )
    return out
