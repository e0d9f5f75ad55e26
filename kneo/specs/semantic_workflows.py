"""Semantic checks of workflows: step references, fallbacks, orchestration and graph structure."""

from __future__ import annotations

from collections import deque
from typing import Any

from .conditions import condition_diagnostics
from .errors import Diagnostic, error, warning
from .walk import ROOT, has_human_step, workflow_entries, workflow_steps

_BUCKET = {
    "agent": "agents",
    "guardrail": "agents",
    "function": "functions",
    "human": "humans",
    "workflow": "workflows",
}
_LABEL = {"agents": "Agent", "functions": "Function", "humans": "Human", "workflows": "Workflow"}
_REF_CODE = {
    "agents": "E_STEP_AGENT_REF",
    "functions": "E_STEP_FUNCTION_REF",
    "humans": "E_STEP_HUMAN_REF",
    "workflows": "E_STEP_WORKFLOW_REF",
}


def _ref_checks(spec: dict[str, Any], wf_key: str, path: str, step: dict[str, Any]) -> list[Diagnostic]:
    components = spec["components"]
    if step["kind"] == "guardrail":
        return []  # 1.2.0 resolves guardrail steps only when building (see build_checks)
    bucket = _BUCKET[step["kind"]]
    ref = step["ref"]
    ref_path = f"{path}.ref"
    if bucket == "workflows" and wf_key != ROOT and ref == wf_key:
        return [
            error(
                "E_STEP_WORKFLOW_SELF_REF",
                f"Workflow '{wf_key}' references itself.",
                ref_path,
                "Reference a different workflow component.",
            )
        ]
    if ref not in components[bucket]:
        return [
            error(
                _REF_CODE[bucket],
                f"{_LABEL[bucket]} component '{ref}' is referenced but not defined.",
                ref_path,
                f"Add it under components.{bucket}.",
            )
        ]
    if bucket == "workflows" and _contains_human(components["workflows"], ref):
        return [
            error(
                "E_STEP_WORKFLOW_NESTED_HUMAN",
                f"Nested workflow '{ref}' contains a human step, which cannot pause the outer run.",
                ref_path,
                "Move the human step into the top-level workflow.",
            )
        ]
    return []


def _contains_human(workflows: dict[str, Any], key: str) -> bool:
    """True when workflow ``key`` or any workflow it nests (at any depth) has a human step."""
    seen: set[str] = set()
    pending = [key]
    while pending:
        current = pending.pop()
        if current in seen or current not in workflows:
            continue
        seen.add(current)
        workflow = workflows[current]
        if has_human_step(workflow):
            return True
        pending += [s["ref"] for _, _, s in workflow_steps("", workflow) if s["kind"] == "workflow"]
    return False


def _duplicate_ids(steps: list[dict[str, Any]], path: str, field: str, code: str) -> list[Diagnostic]:
    seen: set[str] = set()
    out: list[Diagnostic] = []
    for index, step in enumerate(steps):
        if step["id"] in seen:
            out.append(
                error(
                    code,
                    f"Duplicate {field} id '{step['id']}'.",
                    f"{path}.{field}s[{index}].id",
                    f"Give every {field} a unique id.",
                )
            )
        seen.add(step["id"])
    return out


def _sequential(spec: dict[str, Any], key: str, path: str, wf: dict[str, Any]) -> list[Diagnostic]:
    steps = wf["steps"]
    out = _duplicate_ids(steps, path, "step", "E_STEP_DUPLICATE_ID")
    by_id: dict[str, dict[str, Any]] = {}
    for step in steps:
        by_id.setdefault(step["id"], step)
    for index, step in enumerate(steps):
        step_path = f"{path}.steps[{index}]"
        out += _ref_checks(spec, key, step_path, step)
        fb_path = f"{step_path}.fallback_ref"
        target = step.get("fallback_ref")
        if step["on_error"] == "fallback" and not target:
            out.append(
                error(
                    "E_STEP_FALLBACK_REF",
                    f"Step '{step['id']}' uses on_error=fallback without fallback_ref.",
                    fb_path,
                    "Set fallback_ref to another step id.",
                )
            )
        elif target:
            if target not in by_id:
                out.append(
                    error(
                        "E_STEP_FALLBACK_UNKNOWN",
                        f"Fallback step '{target}' is not a step of this workflow.",
                        fb_path,
                        "Use the id of a step in the same workflow.",
                    )
                )
            elif by_id[target]["kind"] == "human":
                out.append(
                    error(
                        "E_STEP_FALLBACK_HUMAN",
                        f"Fallback step '{target}' is a human step.",
                        fb_path,
                        "Use an agent, function or workflow step as fallback.",
                    )
                )
            elif not by_id[target]["enabled"]:
                out.append(
                    warning(
                        "W_STEP_FALLBACK_DISABLED",
                        f"Fallback step '{target}' is disabled.",
                        fb_path,
                        "Enable the fallback step or choose another one.",
                    )
                )
    return out


def _graph_nodes(spec: dict[str, Any], key: str, path: str, wf: dict[str, Any]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    nodes = wf["nodes"]
    for node_key in sorted(nodes):
        step = nodes[node_key]
        node_path = f"{path}.nodes.{node_key}"
        if step["id"] != node_key:
            out.append(
                warning(
                    "W_GRAPH_NODE_ID_MISMATCH",
                    f"Graph node key '{node_key}' differs from its step id '{step['id']}'; the key is used.",
                    f"{node_path}.id",
                    "Make the step id equal to the node key.",
                )
            )
        out += _ref_checks(spec, key, node_path, step)
        fb_path = f"{node_path}.fallback_ref"
        target = step.get("fallback_ref")
        if step["on_error"] == "fallback" and not target:
            out.append(
                error(
                    "E_GRAPH_NODE_FALLBACK_REF",
                    f"Node '{node_key}' uses on_error=fallback without fallback_ref.",
                    fb_path,
                    "Set fallback_ref to another node key.",
                )
            )
        elif target:
            if target not in nodes:
                out.append(
                    error(
                        "E_GRAPH_NODE_FALLBACK_UNKNOWN",
                        f"Fallback node '{target}' is not a node of this graph.",
                        fb_path,
                        "Use the key of a node in the same graph.",
                    )
                )
            elif nodes[target]["kind"] == "human":
                out.append(
                    error(
                        "E_GRAPH_FALLBACK_HUMAN",
                        f"Fallback node '{target}' is a human step.",
                        fb_path,
                        "Use an agent, function or workflow node as fallback.",
                    )
                )
            elif not nodes[target]["enabled"]:
                out.append(
                    error(
                        "E_GRAPH_NODE_FALLBACK_DISABLED",
                        f"Fallback node '{target}' is disabled.",
                        fb_path,
                        "Enable the fallback node or choose another one.",
                    )
                )
    return out


def _orchestration(spec: dict[str, Any], key: str, path: str, wf: dict[str, Any]) -> list[Diagnostic]:
    participants = wf["participants"]
    out = _duplicate_ids(participants, path, "participant", "E_PARTICIPANT_DUPLICATE_ID")
    for index, step in enumerate(participants):
        step_path = f"{path}.participants[{index}]"
        out += _ref_checks(spec, key, step_path, step)
        if step["on_error"] == "fallback" or step.get("fallback_ref"):
            out.append(
                error(
                    "E_PARTICIPANT_FALLBACK_UNSUPPORTED",
                    f"Participant '{step['id']}' may not declare a fallback.",
                    f"{step_path}.fallback_ref",
                    "Use on_error fail, continue or retry.",
                )
            )
    humans = [s for s in participants if s["kind"] == "human" and s["enabled"]]
    if wf["type"] == "concurrent" and len(humans) > 1:
        out.append(
            error(
                "E_ORCHESTRATION_MULTI_HUMAN_UNSUPPORTED",
                "A concurrent workflow may contain at most one human participant.",
                f"{path}.participants",
                "Keep a single human participant.",
            )
        )
    if wf["type"] == "handoff":
        ids = {s["id"] for s in participants}
        for index, item in enumerate(wf["selector"]["sequence"]):
            if item not in ids:
                out.append(
                    error(
                        "E_HANDOFF_SELECTOR_REF",
                        f"Selector references unknown participant '{item}'.",
                        f"{path}.selector.sequence[{index}]",
                        "Use participant ids.",
                    )
                )
    if wf["type"] == "group-chat" and wf["rounds"] < 1:
        out.append(
            error(
                "E_GROUP_CHAT_ROUNDS",
                "Group chat rounds must be at least 1.",
                f"{path}.rounds",
                "Set rounds to 1 or more.",
            )
        )
    return out


def workflow_ref_diagnostics(spec: dict[str, Any]) -> list[Diagnostic]:
    """Reference / fallback / participant checks for the root then component workflows."""
    out: list[Diagnostic] = []
    for path, key, wf in workflow_entries(spec):
        if wf["type"] == "sequential":
            out += _sequential(spec, key, path, wf)
        elif wf["type"] == "graph":
            out += _graph_nodes(spec, key, path, wf)
        else:
            out += _orchestration(spec, key, path, wf)
    return out


def graph_diagnostics(spec: dict[str, Any]) -> list[Diagnostic]:
    """Structure checks of graph workflows: max_steps, start, edges, conditions, reachability."""
    out: list[Diagnostic] = []
    for path, _key, wf in workflow_entries(spec):
        if wf["type"] != "graph":
            continue
        nodes = wf["nodes"]
        if wf["max_steps"] < 1:
            out.append(
                error(
                    "E_GRAPH_MAX_STEPS",
                    "Graph max_steps must be at least 1.",
                    f"{path}.max_steps",
                    "Set max_steps to 1 or more.",
                )
            )
        start = wf["start"]
        start_ok = False
        if start not in nodes:
            out += [
                error(
                    "E_GRAPH_START_UNKNOWN",
                    f"Graph start node '{start}' is not defined among the graph nodes.",
                    f"{path}.start",
                    "Set start to one of the node keys.",
                ),
                error("E_GRAPH_START", f"Graph start node '{start}' is not defined.", f"{path}.start", "Set start."),
            ]
        elif not nodes[start]["enabled"]:
            out.append(
                error(
                    "E_GRAPH_START_DISABLED",
                    f"Graph start node '{start}' is disabled.",
                    f"{path}.start",
                    "Enable the start node or choose another one.",
                )
            )
        else:
            start_ok = True
        for index, edge in enumerate(wf["edges"]):
            edge_path = f"{path}.edges[{index}]"
            if edge["from"] not in nodes:
                out.append(
                    error(
                        "E_GRAPH_EDGE_FROM",
                        f"Edge source '{edge['from']}' is not a node.",
                        edge_path,
                        "Use a node key as edge source.",
                    )
                )
            if edge["to"] not in nodes:
                out.append(
                    error(
                        "E_GRAPH_EDGE_TO",
                        f"Edge target '{edge['to']}' is not a node.",
                        edge_path,
                        "Use a node key as edge target.",
                    )
                )
            if edge.get("condition") is not None:
                out += condition_diagnostics(edge["condition"], f"{edge_path}.condition")
        if start_ok:
            out += _unreachable(path, wf)
    return out


def _unreachable(path: str, wf: dict[str, Any]) -> list[Diagnostic]:
    nodes = wf["nodes"]
    enabled = {k for k, v in nodes.items() if v["enabled"]}
    seen = {wf["start"]}
    queue = deque([wf["start"]])
    links = [(edge["from"], edge["to"]) for edge in wf["edges"]]
    links += [(key, node["fallback_ref"]) for key, node in nodes.items() if node.get("fallback_ref")]
    while queue:
        current = queue.popleft()
        for source, target in links:
            if source == current and target in enabled and target not in seen:
                seen.add(target)
                queue.append(target)
    return [
        warning(
            "W_GRAPH_NODE_UNREACHABLE",
            f"Graph node '{key}' is not reachable from the start node.",
            f"{path}.nodes.{key}",
            "Add an edge to it or remove the node.",
        )
        for key in sorted(nodes)
        if key in enabled and key not in seen
    ]
