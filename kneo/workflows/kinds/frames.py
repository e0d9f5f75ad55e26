"""The engine's working context: frames, running a step in a slot, and propagating outcomes.

A run's engine state holds a tree of *frames*: the root workflow is frame ``"0"`` and every nested
workflow (``kind: workflow`` or a workflow-backed agent) runs as a child frame linked to the
parent's slot. A *slot* is the place a step occupies in its frame (a sequential index, a graph
node, a participant index or an orchestration turn). Units and human requests carry their frame
and slot, so an outcome always finds its way back. Everything here is pure.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from . import nested
from .model import ROOT_FRAME, Decision, Unit

MAX_BACKOFF_SECONDS = 60.0
Slot = int | str


class KindHandler(Protocol):
    """What every workflow kind implements (see the modules of this package)."""

    def start(self, ctx: Ctx, frame: dict[str, Any]) -> None: ...

    def on_done(self, ctx: Ctx, frame: dict[str, Any], slot: Slot, output: str, meta: Mapping[str, Any]) -> None: ...

    def on_failed(self, ctx: Ctx, frame: dict[str, Any], slot: Slot, error: dict[str, Any]) -> None: ...

    def slot_step(self, ctx: Ctx, frame: dict[str, Any], slot: Slot) -> Mapping[str, Any]: ...

    def fallback_step(self, ctx: Ctx, frame: dict[str, Any], ref: str) -> Mapping[str, Any] | None: ...

    def started_metadata(self, workflow: Mapping[str, Any]) -> dict[str, Any]: ...

    def completed_metadata(self, ctx: Ctx, frame: dict[str, Any], termination: str | None) -> dict[str, Any]: ...


def attempts_for(step: Mapping[str, Any]) -> int:
    """Attempts allowed for a step: retries apply with ``on_error: retry`` or ``max_retries > 0``."""
    retries = int(step.get("max_retries") or 0)
    if step.get("on_error") == "retry" and retries == 0:
        retries = 1
    return retries + 1


def backoff_seconds(attempt: int, base: float = 0.5, rng: random.Random | None = None) -> float:
    """Exponential back-off with full jitter for the given (1-based) failed attempt."""
    ceiling = min(MAX_BACKOFF_SECONDS, base * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def normalized_error(error: Mapping[str, Any] | None) -> dict[str, Any]:
    error = error or {}
    return {"message": error.get("message") or "step failed", "type": error.get("type") or "error"}


def _copy_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a JSON-like engine state (a JSON round trip; ``deepcopy`` for anything else)."""
    try:
        copied: dict[str, Any] = orjson.loads(orjson.dumps(state))
    except TypeError:
        copied = copy.deepcopy(dict(state))
    return copied


class Ctx:
    """A working copy of the engine state plus the decision being built."""

    def __init__(self, plan: Mapping[str, Any], state: Mapping[str, Any], handlers: Mapping[str, KindHandler]):
        self.plan = plan
        self.state: dict[str, Any] = _copy_state(state)
        self.decision = Decision(state=self.state)
        self.handlers = handlers
        for key, default in (("frames", {}), ("inflight", []), ("humans", []), ("visited", []), ("visited_nodes", [])):
            self.state.setdefault(key, copy.deepcopy(default))
        self.state.setdefault("next_frame", 1)
        self.state.setdefault("next_token", 1)

    # -- frames ------------------------------------------------------------------------------
    @property
    def frames(self) -> dict[str, dict[str, Any]]:
        frames: dict[str, dict[str, Any]] = self.state["frames"]
        return frames

    def workflow(self, frame: Mapping[str, Any]) -> Mapping[str, Any]:
        workflow: Mapping[str, Any] = self.plan["workflows"][frame["workflow"]]
        return workflow

    def handler(self, frame: Mapping[str, Any]) -> KindHandler:
        return self.handlers[frame["type"]]

    @staticmethod
    def is_root(frame: Mapping[str, Any]) -> bool:
        return bool(frame["id"] == ROOT_FRAME)

    def exports(self, frame: Mapping[str, Any]) -> bool:
        """True when the frame's visits are the run's visited lists (the root, unless opaque)."""
        return self.is_root(frame) and not self.state.get("opaque")

    def start_frame(self, key: str, text: str, link: dict[str, Any] | None) -> dict[str, Any]:
        """Create a frame for workflow ``key`` (root when ``link`` is None) and start it."""
        workflow = self.plan["workflows"][key]
        if link is None:
            fid = ROOT_FRAME
        else:
            fid = str(self.state["next_frame"])
            self.state["next_frame"] += 1
        frame: dict[str, Any] = {
            "id": fid,
            "workflow": key,
            "type": workflow["type"],
            "parent": link,
            "input": text,
            "visited": [],
            "iterations": {},
        }
        self.frames[fid] = frame
        handler = self.handler(frame)
        self.emit(frame, "workflow_started", handler.started_metadata(workflow))
        handler.start(self, frame)
        return frame

    def visited(self, frame: dict[str, Any]) -> list[str]:
        """The visit list of ``frame`` (the run's own lists for the exported root)."""
        if self.exports(frame):
            key = "visited_nodes" if frame["type"] == "graph" else "visited"
            visited: list[str] = self.state[key]
            return visited
        frame_visited: list[str] = frame["visited"]
        return frame_visited

    def visit(self, frame: dict[str, Any], step_id: str) -> None:
        self.visited(frame).append(step_id)
        if self.exports(frame):
            self.decision.visited.append(step_id)

    def emit(self, frame: Mapping[str, Any], event_type: str, metadata: Mapping[str, Any]) -> None:
        data = dict(metadata)
        if not self.is_root(frame):
            link = frame["parent"] or {}
            data.update(
                workflow_name=self.workflow(frame)["name"],
                parent_step_id=(link.get("step") or {}).get("id"),
                nested=True,
            )
        self.decision.events.append((event_type, data))

    # -- running a step in a slot -------------------------------------------------------------
    def run_step(
        self,
        frame: dict[str, Any],
        slot: Slot,
        step: Mapping[str, Any],
        text: str,
        position: int,
        *,
        fallback_for: str | None = None,
        attempt: int = 1,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Run ``step`` in ``slot``: queue a unit, open a child frame or request a human."""
        kind = step["kind"]
        if kind == "human":
            self.request_human(frame, slot, step, text, position)
            return
        key = nested.nested_workflow(self.plan, step)
        if key is not None:
            nested.start_child(self, frame, key, slot, step, text, position, fallback_for, attempt)
            return
        token = f"u{self.state['next_token']}"
        self.state["next_token"] += 1
        self.state["inflight"].append(token)
        routing: dict[str, Any] = {"frame": frame["id"], "slot": slot, "token": token, **(extra or {})}
        if fallback_for:
            routing["fallback_for"] = fallback_for
        self.decision.queue.append(
            Unit(
                step_id=step["id"],
                kind=kind,
                ref=step.get("ref"),
                input_text=text,
                workflow_key=frame["workflow"],
                max_attempts=attempts_for(step),
                timeout_seconds=step.get("timeout_seconds"),
                position=position,
                extra=routing,
            )
        )

    def request_human(
        self, frame: dict[str, Any], slot: Slot, step: Mapping[str, Any], text: str, position: int
    ) -> None:
        """Queue a human request; the run blocks once no unit is in flight (drain, then block)."""
        self.state["humans"].append(
            {
                "frame": frame["id"],
                "slot": slot,
                "step_id": step["id"],
                "ref": step["ref"],
                "input": text,
                "position": position,
                "workflow": frame["workflow"],
                "node_id": slot if frame["type"] == "graph" else None,
            }
        )

    # -- outcomes -----------------------------------------------------------------------------
    def slot_done(
        self, frame: dict[str, Any], slot: Slot, input_text: str, output: str, meta: Mapping[str, Any] | None = None
    ) -> None:
        """``slot`` produced ``output``: record the completion, then let the kind decide what follows."""
        meta = dict(meta or {})
        handler = self.handler(frame)
        step = handler.slot_step(self, frame, slot)
        iterations = frame.setdefault("iterations", {})
        iterations[step["id"]] = iterations.get(step["id"], 0) + 1
        if self.exports(frame):
            graph = frame["type"] == "graph"
            self.decision.completions.append(
                {
                    "type": "node_completed" if graph else "step_completed",
                    "step_id": None if graph else step["id"],
                    "node_id": str(slot) if graph else None,
                    "iteration": iterations[step["id"]],
                    "metadata": {
                        "workflow_type": frame["type"],
                        "input_text": input_text,
                        "output_text": output,
                        "error": meta.get("error"),
                        "iteration": iterations[step["id"]],
                        **{k: v for k, v in meta.items() if k != "error"},
                    },
                }
            )
        handler.on_done(self, frame, slot, output, meta)

    def slot_failed(
        self,
        frame: dict[str, Any],
        slot: Slot,
        error: Mapping[str, Any],
        input_text: str,
        *,
        fallback_for: str | None = None,
        child_link: Mapping[str, Any] | None = None,
    ) -> None:
        """Apply the slot's ``on_error`` policy (spec-format §6.2, 1.2.0) after its attempts ran out."""
        error = normalized_error(error)
        handler = self.handler(frame)
        original = handler.slot_step(self, frame, slot)
        if child_link is not None and int(child_link.get("attempt") or 1) < attempts_for(child_link["step"]):
            self.run_step(
                frame,
                slot,
                child_link["step"],
                input_text,
                int(child_link.get("position") or 0),
                fallback_for=fallback_for,
                attempt=int(child_link.get("attempt") or 1) + 1,
            )
            return
        policy = original.get("on_error") or "fail"
        if fallback_for or original["kind"] == "human":
            policy = "fail"
        if policy == "continue":
            meta = {"step_failed": True, "error": error, "on_error": "continue"}
            self.decision.step_outcome = meta
            self.slot_done(frame, slot, input_text, input_text, meta)
            return
        if policy == "fallback" and original.get("fallback_ref"):
            target = handler.fallback_step(self, frame, original["fallback_ref"])
            if target is not None and target["kind"] != "human":
                self.decision.step_outcome = {"step_failed": True, "error": error, "on_error": "fallback"}
                position = int((child_link or {}).get("position") or self.slot_position(frame, slot))
                self.run_step(frame, slot, target, input_text, position, fallback_for=original["id"])
                return
        handler.on_failed(self, frame, slot, error)

    def slot_position(self, frame: Mapping[str, Any], slot: Slot) -> int:
        if isinstance(slot, int):
            return slot
        return int(frame.get("steps", 1)) - 1

    def finish(self, frame: dict[str, Any], output: str, termination: str | None = None) -> None:
        """The frame completed with ``output``: complete the run, or hand it to the parent slot."""
        self.emit(frame, "workflow_completed", self.handler(frame).completed_metadata(self, frame, termination))
        link = frame["parent"]
        if link is None:
            self.decision.status = "completed"
            self.decision.output_text = output
            self.decision.termination = termination
            if termination:
                self.state["termination"] = termination
            return
        nested.child_finished(self, frame, output)

    def fail(self, frame: dict[str, Any], error: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> None:
        """The frame failed: fail the run, or apply the parent slot's error policy."""
        self.emit(frame, "workflow_failed", dict(metadata or {}))
        link = frame["parent"]
        if link is None:
            self.decision.status = "failed"
            self.decision.error = normalized_error(error)
            return
        nested.child_failed(self, frame, error)
