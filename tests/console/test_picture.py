"""The workflow picture: layering and an SVG that escapes every name."""

from __future__ import annotations

from kneo.web.console.picture import graph_svg, layers


def node(node_id: str, **extra: object) -> dict[str, object]:
    return {"id": node_id, "kind": "agent", **extra}


def edge(source: str, target: str, **extra: object) -> dict[str, object]:
    return {"from": source, "to": target, **extra}


def test_layers_follow_distance_from_start_and_keep_unreachable_nodes_last() -> None:
    nodes = [node("a", start=True), node("b"), node("c"), node("d"), node("orphan")]
    edges = [edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("d", "a")]
    assert layers(nodes, edges) == [["a"], ["b", "c"], ["d"], ["orphan"]]


def test_concurrent_participants_share_one_layer() -> None:
    assert layers([node("x"), node("y"), node("z")], []) == [["x", "y", "z"]]


def test_svg_marks_states_current_node_and_traversed_edges() -> None:
    graph = {
        "workflow": {"name": "triage"},
        "current": "b",
        "nodes": [node("a", start=True, state="completed", visits=2), node("b", state="waiting_human"), node("c")],
        "edges": [edge("a", "b", traversed=True, label="ok"), edge("b", "a", condition="retry")],
    }
    svg = str(graph_svg(graph))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'class="node state-completed kind-agent"' in svg
    assert 'class="node state-waiting_human kind-agent current"' in svg
    assert svg.count('class="edge traversed"') == 1
    assert "x2" in svg and "if retry" in svg
    assert "<title" in svg and 'role="img"' in svg


def test_svg_escapes_names_labels_and_conditions() -> None:
    hostile = '<script>alert("x")</script>'
    graph = {
        "workflow": {"name": hostile},
        "nodes": [node(hostile, start=True), node("b")],
        "edges": [edge(hostile, "b", label=hostile)],
    }
    svg = str(graph_svg(graph))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
