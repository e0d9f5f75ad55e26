"""A workflow graph (``/specs/graph`` / ``/runs/{id}/graph`` data) drawn as an SVG; pure.

Nodes are placed in layers by their distance from the start node (concurrent participants share
one layer); forward edges are straight arrows, edges back to an earlier layer curve round the
right-hand side. Visited nodes, the current node and traversed edges carry CSS classes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

NODE_WIDTH, NODE_HEIGHT = 168, 44
GAP_X, GAP_Y, MARGIN = 28, 64, 24
MAX_LABEL = 22


def layers(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Node ids by layer: breadth-first distance from the start node, unreachable ones last."""
    ids = [str(n["id"]) for n in nodes]
    start = next((str(n["id"]) for n in nodes if n.get("start")), None)
    if start is None:
        return [ids] if ids else []
    successors: dict[str, list[str]] = {i: [] for i in ids}
    for edge in edges:
        if edge["from"] in successors and edge["to"] in successors:
            successors[edge["from"]].append(edge["to"])
    depth = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for target in successors[current]:
            if target not in depth:
                depth[target] = depth[current] + 1
                queue.append(target)
    rows: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node_id in ids:
        if node_id in depth:
            rows[depth[node_id]].append(node_id)
    unreachable = [i for i in ids if i not in depth]
    return rows + ([unreachable] if unreachable else [])


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def graph_svg(graph: Mapping[str, Any]) -> Markup:
    """The graph as an accessible inline SVG element."""
    nodes = list(graph.get("nodes") or [])
    edges = list(graph.get("edges") or [])
    rows = layers(nodes, edges)
    widest = max((len(r) for r in rows), default=1)
    width = MARGIN * 2 + widest * NODE_WIDTH + (widest - 1) * GAP_X + 60
    height = MARGIN * 2 + len(rows) * NODE_HEIGHT + max(len(rows) - 1, 0) * GAP_Y
    centres = _centres(rows, widest)
    layer_of = {node_id: index for index, row in enumerate(rows) for node_id in row}
    title = escape((graph.get("workflow") or {}).get("name") or "agent")
    parts = [
        f'<svg class="workflow" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="graph-title"><title id="graph-title">Workflow {title}</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    parts += [_edge_svg(e, centres, layer_of, width) for e in edges if e["from"] in centres and e["to"] in centres]
    parts += [_node_svg(n, centres[str(n["id"])], graph.get("current")) for n in nodes]
    parts.append("</svg>")
    return Markup("".join(parts))


def _centres(rows: list[list[str]], widest: int) -> dict[str, tuple[float, float]]:
    full = widest * NODE_WIDTH + (widest - 1) * GAP_X
    centres: dict[str, tuple[float, float]] = {}
    for index, row in enumerate(rows):
        span = len(row) * NODE_WIDTH + (len(row) - 1) * GAP_X
        left = MARGIN + (full - span) / 2
        y = MARGIN + index * (NODE_HEIGHT + GAP_Y) + NODE_HEIGHT / 2
        for position, node_id in enumerate(row):
            centres[node_id] = (left + position * (NODE_WIDTH + GAP_X) + NODE_WIDTH / 2, y)
    return centres


def _node_svg(node: Mapping[str, Any], centre: tuple[float, float], current: str | None) -> str:
    x, y = centre[0] - NODE_WIDTH / 2, centre[1] - NODE_HEIGHT / 2
    classes = ["node", f"state-{node.get('state') or 'plain'}", f"kind-{node.get('kind') or 'step'}"]
    if current and node["id"] == current:
        classes.append("current")
    visits = int(node.get("visits") or 0)
    name = escape(_label(str(node["id"])))
    kind = escape(str(node.get("kind") or ""))
    badge = f" x{visits}" if visits > 1 else ""
    return (
        f'<g class="{" ".join(classes)}" data-node="{escape(node["id"])}">'
        f"<title>{escape(node['id'])} ({kind}){escape(badge)}</title>"
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8"/>'
        f'<text x="{centre[0]:.1f}" y="{centre[1] - 3:.1f}" text-anchor="middle">{name}</text>'
        f'<text class="sub" x="{centre[0]:.1f}" y="{centre[1] + 13:.1f}" text-anchor="middle">{kind}{badge}</text>'
        "</g>"
    )


def _edge_svg(
    edge: Mapping[str, Any], centres: Mapping[str, tuple[float, float]], layer_of: Mapping[str, int], width: float
) -> str:
    (x1, y1), (x2, y2) = centres[edge["from"]], centres[edge["to"]]
    classes = "edge traversed" if edge.get("traversed") else "edge"
    label = edge.get("label") or ("if " + str(edge["condition"]) if edge.get("condition") else "")
    if layer_of[edge["to"]] > layer_of[edge["from"]]:
        path = f"M{x1:.1f},{y1 + NODE_HEIGHT / 2:.1f} L{x2:.1f},{y2 - NODE_HEIGHT / 2 - 2:.1f}"
        lx, ly = (x1 + x2) / 2 + 6, (y1 + y2) / 2
    else:
        bend = max(x1, x2) + NODE_WIDTH / 2 + 30
        bend = min(bend, width - 6)
        path = (
            f"M{x1 + NODE_WIDTH / 2:.1f},{y1:.1f} C{bend:.1f},{y1:.1f} {bend:.1f},{y2:.1f} "
            f"{x2 + NODE_WIDTH / 2 + 2:.1f},{y2:.1f}"
        )
        lx, ly = bend - 4, (y1 + y2) / 2
    text = f'<text class="edge-label" x="{lx:.1f}" y="{ly:.1f}">{escape(_label(str(label)))}</text>' if label else ""
    return f'<g class="{classes}"><path d="{path}" marker-end="url(#arrow)"/>{text}</g>'
