"""The engine's value types: units to queue, human pauses and the decision the caller persists."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ROOT = "__root__"
ROOT_FRAME = "0"


@dataclass(frozen=True)
class Unit:
    """An executable unit the engine wants queued.

    ``extra`` routes the unit's outcome back to its frame and slot (``frame``, ``slot``, ``token``)
    and carries ``fallback_for`` / ``transcript`` when they apply.
    """

    step_id: str
    kind: str
    ref: str | None
    input_text: str
    workflow_key: str | None
    max_attempts: int
    timeout_seconds: int | None
    position: int
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HumanPause:
    """The run must pause on a human step."""

    step_id: str
    ref: str
    input_text: str
    position: int
    workflow_key: str | None
    node_id: str | None = None


@dataclass
class Decision:
    """What the caller must persist and dispatch.

    ``completions`` are the step/node checkpoints of the root workflow this decision produced
    (``{type, step_id, node_id, iteration, metadata}``); ``state`` carries the root visited lists.
    """

    state: dict[str, Any]
    queue: list[Unit] = field(default_factory=list)
    status: str | None = None
    output_text: str | None = None
    error: dict[str, Any] | None = None
    human: HumanPause | None = None
    visited: list[str] = field(default_factory=list)
    step_outcome: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    retry_delay: float | None = None
    completions: list[dict[str, Any]] = field(default_factory=list)
    termination: str | None = None


class UnsupportedWorkflow(Exception):
    """The engine cannot run this workflow type (or cannot continue it)."""


MAX_ITERATIONS_ERROR = {"message": "Run stopped after reaching max iterations.", "type": "max_iterations"}
