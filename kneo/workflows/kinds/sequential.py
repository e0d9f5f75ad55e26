"""Sequential workflows: steps run in order; the output of step N is the input of step N+1."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .frames import Ctx, Slot


class Sequential:
    """The ``sequential`` kind (spec-format §6.4)."""

    def started_metadata(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        return {"start_index": 0, "step_count": len(workflow["steps"])}

    def completed_metadata(self, ctx: Ctx, frame: dict[str, Any], termination: str | None) -> dict[str, Any]:
        return {"visited_steps": list(ctx.visited(frame))}

    def start(self, ctx: Ctx, frame: dict[str, Any]) -> None:
        self.advance(ctx, frame, int(frame.get("index") or 0), frame["input"])

    def advance(self, ctx: Ctx, frame: dict[str, Any], index: int, text: str) -> None:
        """Run the step at ``index`` with ``text``, or finish when the list is exhausted."""
        steps = ctx.workflow(frame)["steps"]
        frame["index"] = index
        if ctx.is_root(frame):
            ctx.state["index"] = index
        if index >= len(steps):
            ctx.finish(frame, text)
            return
        ctx.run_step(frame, index, steps[index], text, index)

    def on_done(self, ctx: Ctx, frame: dict[str, Any], slot: Slot, output: str, meta: Mapping[str, Any]) -> None:
        index = int(slot)
        ctx.visit(frame, ctx.workflow(frame)["steps"][index]["id"])
        self.advance(ctx, frame, index + 1, output)

    def on_failed(self, ctx: Ctx, frame: dict[str, Any], slot: Slot, error: dict[str, Any]) -> None:
        ctx.fail(frame, error, {"failed_step": self.slot_step(ctx, frame, slot)["id"]})

    def slot_step(self, ctx: Ctx, frame: dict[str, Any], slot: Slot) -> Mapping[str, Any]:
        step: Mapping[str, Any] = ctx.workflow(frame)["steps"][int(slot)]
        return step

    def fallback_step(self, ctx: Ctx, frame: dict[str, Any], ref: str) -> Mapping[str, Any] | None:
        return next((s for s in ctx.workflow(frame)["steps"] if s["id"] == ref), None)
