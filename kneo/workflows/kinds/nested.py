"""Nested workflows: a ``kind: workflow`` step, or a workflow-backed agent (``as_agent``), runs a
component workflow as a child frame of the run's engine state (never as a separate run).

The child's final text is the step's output in the parent slot; a child failure is the step's
failure and goes through the step's retry budget and ``on_error`` policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .frames import Ctx, Slot


def nested_workflow(plan: Mapping[str, Any], step: Mapping[str, Any]) -> str | None:
    """The component workflow a step runs as a child frame, or None for a unit/human step."""
    workflows = plan.get("workflows", {})
    if step["kind"] == "workflow":
        return str(step["ref"])
    if step["kind"] in ("agent", "guardrail"):
        target = (plan.get("agents", {}).get(step.get("ref") or "") or {}).get("as_agent")
        if target and target in workflows:
            return str(target)
    return None


def start_child(
    ctx: Ctx,
    frame: dict[str, Any],
    key: str,
    slot: Slot,
    step: Mapping[str, Any],
    text: str,
    position: int,
    fallback_for: str | None,
    attempt: int,
) -> None:
    """Open a child frame for workflow ``key`` in ``frame``'s ``slot``."""
    link = {
        "frame": frame["id"],
        "slot": slot,
        "step": dict(step),
        "input": text,
        "position": position,
        "attempt": attempt,
        "fallback_for": fallback_for,
    }
    ctx.start_frame(key, text, link)


def child_finished(ctx: Ctx, frame: dict[str, Any], output: str) -> None:
    link = frame["parent"]
    del ctx.frames[frame["id"]]
    parent = ctx.frames[link["frame"]]
    meta = {"fallback_for": link["fallback_for"]} if link.get("fallback_for") else {}
    ctx.slot_done(parent, link["slot"], link["input"], output, meta)


def child_failed(ctx: Ctx, frame: dict[str, Any], error: Mapping[str, Any]) -> None:
    link = frame["parent"]
    _drop(ctx, frame["id"])
    parent = ctx.frames[link["frame"]]
    ctx.slot_failed(parent, link["slot"], error, link["input"], fallback_for=link.get("fallback_for"), child_link=link)


def _drop(ctx: Ctx, fid: str) -> None:
    """Remove a frame, its descendants and their pending human requests."""
    doomed = {fid}
    changed = True
    while changed:
        children = {k for k, f in ctx.frames.items() if (f.get("parent") or {}).get("frame") in doomed}
        changed = not children <= doomed
        doomed |= children
    for key in doomed:
        ctx.frames.pop(key, None)
    ctx.state["humans"] = [h for h in ctx.state["humans"] if h["frame"] not in doomed]
