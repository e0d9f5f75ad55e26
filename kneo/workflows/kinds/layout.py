"""A workflow plan as ``{nodes, edges}`` for display (``/specs/graph``, ``/runs/{id}/graph``); pure.

The answer carries 1.2's shape (``workflow_kind``, ``workflow_name``, ``start``, ``max_steps``;
nodes with ``name`` and their error policy; edges ``{source, target, label, conditional,
priority}``) next to kneo's own (``workflow``, node ``kind``/``ref``/``start``, edges
``from``/``to``/``condition``), for every workflow kind.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .nested import nested_workflow


def workflow_graph(plan: Mapping[str, Any]) -> dict[str, Any]:
    """Nodes and edges of the plan's root workflow (a single agent node when there is none)."""
    key = plan.get("root_workflow") if plan.get("target") == "workflow" else None
    workflow = (plan.get("workflows") or {}).get(key or "")
    if workflow is None:
        agent = (plan.get("agents") or {}).get(plan.get("root_agent") or "") or {}
        step = {"id": agent.get("name") or "agent", "kind": "agent", "ref": plan.get("root_agent")}
        node = _node(plan, step, step["id"], "agent")
        return {**_summary(None, None, node["id"], None), "workflow": None, "nodes": [node], "edges": []}
    kind = workflow["type"]
    if kind == "graph":
        steps = [dict(step, id=node_id) for node_id, step in workflow["nodes"].items()]
        edges = [
            _edge(e["from"], e["to"], e.get("label"), e.get("condition"), e.get("priority")) for e in workflow["edges"]
        ]
        start = workflow["start"]
    elif kind == "sequential":
        steps = list(workflow["steps"])
        edges = [_edge(a["id"], b["id"]) for a, b in itertools.pairwise(steps)]
        start = steps[0]["id"] if steps else None
    else:
        steps = list(workflow["participants"])
        edges = [] if kind == "concurrent" else _turn_edges(plan, workflow)
        start = None if kind == "concurrent" else (steps[0]["id"] if steps else None)
    nodes = [_node(plan, step, start, kind) for step in steps]
    meta = {"name": workflow["name"], "type": kind, "max_steps": workflow.get("max_steps")}
    return {
        **_summary(kind, workflow["name"], start, workflow.get("max_steps")),
        "workflow": meta,
        "nodes": nodes,
        "edges": edges,
    }


def _summary(kind: str | None, name: str | None, start: str | None, max_steps: int | None) -> dict[str, Any]:
    return {"workflow_kind": kind, "workflow_name": name, "start": start, "max_steps": max_steps}


def run_graph(plan: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """The plan's graph with the run's visited state on every node."""
    graph = workflow_graph(plan)
    kind = (graph["workflow"] or {}).get("type")
    visited: Sequence[str] = run.get("visited_nodes" if kind == "graph" else "visited_steps") or []
    counts = Counter(visited)
    pending = (run.get("pending_human_request") or {}).get("requested_by")
    current = run.get("current_node_id") if kind == "graph" else run.get("current_step_id")
    for node in graph["nodes"]:
        node["visits"] = counts.get(node["id"], 0)
        node["visited"] = node["visits"] > 0
        if run.get("status") == "blocked" and node["id"] == pending:
            node["state"] = "waiting_human"
        elif node["visited"]:
            node["state"] = "completed"
        else:
            node["state"] = "pending"
    pairs = list(itertools.pairwise(visited))
    for edge in graph["edges"]:
        edge["traversed"] = (edge["from"], edge["to"]) in pairs
    state = run.get("engine_state") or {}
    graph.update(
        run_id=run.get("id"),
        status=run.get("status"),
        visited=list(visited),
        visited_steps=list(run.get("visited_steps") or []),
        visited_nodes=list(run.get("visited_nodes") or []),
        current=current,
        termination=state.get("termination"),
    )
    return graph


def _edge(
    source: str,
    target: str,
    label: str | None = None,
    condition: Mapping[str, Any] | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    return {
        "source": source,
        "target": target,
        "label": label,
        "conditional": condition is not None and condition.get("type") != "always",
        "priority": priority or 0,
        "from": source,
        "to": target,
        "condition": condition,
    }


def _node(plan: Mapping[str, Any], step: Mapping[str, Any], start: str | None, kind: str) -> dict[str, Any]:
    node = {
        "id": step["id"],
        "name": step["id"],
        "kind": step["kind"],
        "ref": step.get("ref"),
        "start": step["id"] == start,
        "on_error": step.get("on_error", "fail"),
        "max_retries": step.get("max_retries", 0),
        "timeout_seconds": step.get("timeout_seconds"),
        "fallback_node": step.get("fallback_ref"),
    }
    nested = nested_workflow(plan, step)
    if nested is not None:
        node["workflow"] = nested
    if kind == "concurrent":
        node["parallel"] = True
    return node


def _turn_edges(plan: Mapping[str, Any], workflow: Mapping[str, Any]) -> list[dict[str, Any]]:
    from .orchestration import Turns

    participants = workflow["participants"]
    order = [participants[i]["id"] for i in Turns().order(workflow)]
    edges: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for turn, (source, target) in enumerate(itertools.pairwise(order), start=1):
        if (source, target) not in seen:
            seen.add((source, target))
            edges.append(_edge(source, target, f"turn {turn + 1}"))
    return edges
