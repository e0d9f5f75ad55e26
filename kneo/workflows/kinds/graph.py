"""Graph workflows: nodes joined by edges with the condition language; cycles allowed.

After a node finishes, its outgoing edges are examined in declaration order and the first whose
condition holds is followed; none holding ends the graph normally (``no_matching_edge``). The
traversal is capped at ``max_steps`` node executions (``max_steps``: the run fails with
"Run stopped after reaching max iterations.").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kneo.specs import SpecError, evaluate_condition

from .frames import Ctx, Slot
from .model import MAX_ITERATIONS_ERROR


class Graph:
    """The ``graph`` kind (spec-format §6.4, §6.6)."""

    def started_metadata(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        return {"workflow_type": "graph", "start": workflow["start"], "max_steps": workflow["max_steps"]}

    def completed_metadata(self, ctx: Ctx, frame: dict[str, Any], termination: str | None) -> dict[str, Any]:
        return {"visited_nodes": list(ctx.visited(frame)), "termination": termination}

    def start(self, ctx: Ctx, frame: dict[str, Any]) -> None:
        frame["steps"] = 0
        self.enter(ctx, frame, ctx.workflow(frame)["start"], frame["input"])

    def enter(self, ctx: Ctx, frame: dict[str, Any], node: str, text: str) -> None:
        """Execute ``node`` unless the ``max_steps`` cap is reached."""
        workflow = ctx.workflow(frame)
        if node not in workflow["nodes"]:
            ctx.fail(frame, {"message": f"Unknown graph node: {node}", "type": "graph_node_unknown"})
            return
        if int(frame.get("steps") or 0) >= int(workflow["max_steps"]):
            self.stop_at_cap(ctx, frame, node)
            return
        frame["steps"] = int(frame.get("steps") or 0) + 1
        frame["node"] = node
        if ctx.is_root(frame):
            ctx.state["current_node"] = node
        ctx.run_step(frame, node, workflow["nodes"][node], text, frame["steps"] - 1)

    def stop_at_cap(self, ctx: Ctx, frame: dict[str, Any], node: str) -> None:
        ctx.emit(frame, "workflow_completed", self.completed_metadata(ctx, frame, "max_steps"))
        if ctx.is_root(frame):
            ctx.state["termination"] = "max_steps"
            ctx.decision.termination = "max_steps"
        metadata = {"visited_nodes": list(ctx.visited(frame)), "termination": "max_steps", "next_node": node}
        ctx.fail(frame, dict(MAX_ITERATIONS_ERROR), metadata)

    def on_done(self, ctx: Ctx, frame: dict[str, Any], slot: Slot, output: str, meta: Mapping[str, Any]) -> None:
        node = str(slot)
        ctx.visit(frame, node)
        try:
            target = self.route(ctx, frame, node, output, meta)
        except SpecError as exc:
            ctx.fail(frame, {"message": exc.message, "type": exc.code}, {"failed_node": node})
            return
        if target is None:
            ctx.finish(frame, output, "no_matching_edge")
            return
        self.enter(ctx, frame, target, output)

    def route(self, ctx: Ctx, frame: dict[str, Any], node: str, output: str, meta: Mapping[str, Any]) -> str | None:
        """The target of the first outgoing edge (declaration order) whose condition holds."""
        variables = ctx.state.get("variables") or {}
        status = "failed" if meta.get("step_failed") else "completed"
        for edge in ctx.workflow(frame)["edges"]:
            if edge["from"] != node:
                continue
            if evaluate_condition(edge.get("condition"), output, meta, variables, status):
                return str(edge["to"])
        return None

    def on_failed(self, ctx: Ctx, frame: dict[str, Any], slot: Slot, error: dict[str, Any]) -> None:
        ctx.fail(frame, error, {"failed_node": str(slot), "visited_nodes": list(ctx.visited(frame))})

    def slot_step(self, ctx: Ctx, frame: dict[str, Any], slot: Slot) -> Mapping[str, Any]:
        step: Mapping[str, Any] = ctx.workflow(frame)["nodes"][str(slot)]
        return step

    def fallback_step(self, ctx: Ctx, frame: dict[str, Any], ref: str) -> Mapping[str, Any] | None:
        node: Mapping[str, Any] | None = ctx.workflow(frame)["nodes"].get(ref)
        return node
