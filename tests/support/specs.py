"""Spec builders used across the tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BRIDGE = {"preferred_mode": "bridge", "allowed_modes": ["bridge"]}


def agent(name: str) -> dict[str, Any]:
    return {"name": name, "strategy": {"type": "simple"}, "runtime_preferences": dict(BRIDGE)}


def sequential(
    steps: list[dict[str, Any]],
    *,
    functions: dict[str, str] | None = None,
    agents: Sequence[str] = (),
    humans: dict[str, dict[str, Any]] | None = None,
    name: str = "test-flow",
) -> dict[str, Any]:
    """A sequential workflow spec with the given steps and components."""
    components: dict[str, Any] = {"agents": {a: agent(a) for a in agents}}
    if functions:
        components["functions"] = {k: {"implementation": v} for k, v in functions.items()}
    if humans:
        components["humans"] = humans
    return {
        "version": "v1",
        "agent": agent("root"),
        "workflow": {"type": "sequential", "name": name, "steps": steps},
        "components": components,
    }


def echo_chain(count: int = 3) -> dict[str, Any]:
    names = [f"a{i}" for i in range(count)]
    return sequential([{"id": n, "kind": "agent", "ref": n} for n in names], agents=names)


def function_step(step_id: str, ref: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "kind": "function", "ref": ref, **extra}


def human_flow(*, allow_edit: bool = False) -> dict[str, Any]:
    """draft → approve (a human approval; ``allow_edit`` lets it take an edit) → publish."""
    approver: dict[str, Any] = {"description": "Approve the draft", "assignee": "reviewer", "timeout_seconds": 3600}
    if allow_edit:
        approver["allow_edit"] = True
    return sequential(
        [
            {"id": "draft", "kind": "agent", "ref": "writer"},
            {"id": "approve", "kind": "human", "ref": "approver"},
            {"id": "publish", "kind": "agent", "ref": "publisher"},
        ],
        agents=["writer", "publisher"],
        humans={"approver": approver},
        name="approval-flow",
    )
