"""Orchestrations: concurrent fan-out/join, handoff (selector-driven turns) and group chat (rounds)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .frames import Ctx, Slot


def _participant_metadata(workflow: Mapping[str, Any]) -> dict[str, Any]:
    metadata = {"workflow_type": workflow["type"], "participant_count": len(workflow["participants"])}
    if workflow["type"] == "group-chat":
        metadata["rounds"] = workflow.get("rounds")
    return metadata


class Concurrent:
    """Every participant runs in parallel on the same input; the join waits until all settle.

    The output is the last participant's output in declaration order and the visited list is in
    declaration order however the participants finish. A failure fails the workflow with the
    first failure (declaration order) once every sibling settled. Human participants are
    drain-then-block: the run blocks only when no sibling unit is in flight.
    """

    def started_metadata(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        return _participant_metadata(workflow)

    def completed_metadata(self, ctx: Ctx, frame: dict[str, Any], termination: str | None) -> dict[str, Any]:
        return {"visited_steps": list(ctx.visited(frame)), "workflow_type": "concurrent"}

    def start(self, ctx: Ctx, frame: dict[str, Any]) -> None:
        frame["results"] = {}
        participants = ctx.workflow(frame)["participants"]
        if not participants:
            ctx.finish(frame, frame["input"])
            return
        for index, step in enumerate(participants):
            ctx.run_step(frame, index, step, frame["input"], index)

    def on_done(self, ctx: Ctx, frame: dict[str, Any], slot: Slot, output: str, meta: Mapping[str, Any]) -> None:
        frame["results"][str(slot)] = {"ok": True, "output": output}
        self.join(ctx, frame)

    def on_failed(self, ctx: Ctx, frame: dict[str, Any], slot: Slot, error: dict[str, Any]) -> None:
        frame["results"][str(slot)] = {"ok": False, "error": error}
        self.join(ctx, frame)

    def join(self, ctx: Ctx, frame: dict[str, Any]) -> None:
        participants = ctx.workflow(frame)["participants"]
        results: dict[str, Any] = frame["results"]
        ordered = [(i, results.get(str(i))) for i in range(len(participants))]
        visited = ctx.visited(frame)
        visited[:] = [participants[i]["id"] for i, r in ordered if r and r["ok"]]
        failures = [r for _, r in ordered if r and not r["ok"]]
        pending = [i for i, r in ordered if r is None]
        waiting = {h["slot"] for h in ctx.state["humans"] if h["frame"] == frame["id"]}
        if failures and pending and all(i in waiting for i in pending):
            ctx.state["humans"] = [h for h in ctx.state["humans"] if h["frame"] != frame["id"]]
            pending = []
        if pending:
            return
        if failures:
            failed = next(participants[i]["id"] for i, r in ordered if r and not r["ok"])
            ctx.fail(frame, failures[0]["error"], {"failed_step": failed, "workflow_type": "concurrent"})
            return
        ctx.finish(frame, str(ordered[-1][1]["output"]))  # type: ignore[index]

    def slot_step(self, ctx: Ctx, frame: dict[str, Any], slot: Slot) -> Mapping[str, Any]:
        step: Mapping[str, Any] = ctx.workflow(frame)["participants"][int(slot)]
        return step

    def fallback_step(self, ctx: Ctx, frame: dict[str, Any], ref: str) -> Mapping[str, Any] | None:
        return None


class Turns:
    """Handoff and group chat: participants take turns on the running transcript.

    The turn order is fixed at start: group chat visits every participant per round, in
    declaration order; handoff follows its selector (``sequence``: the listed ids, default the
    declaration order, until exhausted; ``round_robin``: cycling). Both stop at ``max_iterations``
    and complete normally (1.2.0 semantics). Each turn receives the latest text and the transcript.
    """

    def started_metadata(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        return _participant_metadata(workflow)

    def completed_metadata(self, ctx: Ctx, frame: dict[str, Any], termination: str | None) -> dict[str, Any]:
        metadata = {"visited_steps": list(ctx.visited(frame)), "workflow_type": frame["type"]}
        if frame["type"] == "group-chat":
            metadata["rounds"] = ctx.workflow(frame).get("rounds")
        return metadata

    def order(self, workflow: Mapping[str, Any]) -> list[int]:
        participants = workflow["participants"]
        count = len(participants)
        if count == 0:
            return []
        cap = workflow.get("max_iterations")
        if workflow["type"] == "group-chat":
            turns = [i for _ in range(int(workflow.get("rounds") or 1)) for i in range(count)]
        else:
            selector = workflow.get("selector") or {"type": "sequence", "sequence": []}
            ids = [p["id"] for p in participants]
            if selector.get("type") == "round_robin":
                turns = [t % count for t in range(int(cap or count))]
            else:
                turns = [ids.index(i) for i in (selector.get("sequence") or ids) if i in ids]
        return turns[: int(cap)] if cap is not None else turns

    def start(self, ctx: Ctx, frame: dict[str, Any]) -> None:
        frame["order"] = self.order(ctx.workflow(frame))
        frame["transcript"] = [{"role": "user", "name": None, "content": frame["input"]}]
        self.take_turn(ctx, frame, 0, frame["input"])

    def take_turn(self, ctx: Ctx, frame: dict[str, Any], turn: int, text: str) -> None:
        frame["turn"] = turn
        if turn >= len(frame["order"]):
            ctx.finish(frame, text)
            return
        step = ctx.workflow(frame)["participants"][frame["order"][turn]]
        extra = {"transcript": list(frame["transcript"]), "turn": turn}
        ctx.run_step(frame, turn, step, text, turn, extra=extra)

    def on_done(self, ctx: Ctx, frame: dict[str, Any], slot: Slot, output: str, meta: Mapping[str, Any]) -> None:
        step = self.slot_step(ctx, frame, slot)
        ctx.visit(frame, step["id"])
        frame["transcript"].append({"role": "assistant", "name": step["id"], "content": output})
        self.take_turn(ctx, frame, int(slot) + 1, output)

    def on_failed(self, ctx: Ctx, frame: dict[str, Any], slot: Slot, error: dict[str, Any]) -> None:
        failed = self.slot_step(ctx, frame, slot)["id"]
        ctx.fail(frame, error, {"failed_step": failed, "workflow_type": frame["type"]})

    def slot_step(self, ctx: Ctx, frame: dict[str, Any], slot: Slot) -> Mapping[str, Any]:
        step: Mapping[str, Any] = ctx.workflow(frame)["participants"][frame["order"][int(slot)]]
        return step

    def fallback_step(self, ctx: Ctx, frame: dict[str, Any], ref: str) -> Mapping[str, Any] | None:
        return None
