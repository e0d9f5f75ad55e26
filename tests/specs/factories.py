"""Spec builders shared by the spec-compiler tests."""

from __future__ import annotations

import copy
from typing import Any

ALLOWED = ("examples",)


def base_spec() -> dict[str, Any]:
    """A valid spec exercising most features with zero diagnostics under ``ALLOWED``."""
    return copy.deepcopy(
        {
            "version": "v1",
            "metadata": {"name": "demo"},
            "agent": {
                "name": "root",
                "model": {"provider": "dummy", "name": "m"},
                "strategy": "simple",
                "tools": {
                    "include": ["search"],
                    "permissions": {"allow_network": True, "allowed_domains": ["example.com"]},
                },
            },
            "workflow": {
                "type": "sequential",
                "steps": [
                    {"id": "draft", "kind": "function", "ref": "draft"},
                    {"id": "approve", "kind": "human", "ref": "reviewer"},
                    {"id": "write", "kind": "agent", "ref": "writer"},
                ],
            },
            "components": {
                "agents": {"writer": {"name": "writer"}},
                "workflows": {"sub": {"type": "sequential", "steps": [{"id": "w", "kind": "agent", "ref": "writer"}]}},
                "functions": {"draft": {"implementation": "examples.fns.draft"}},
                "humans": {"reviewer": {"description": "Approve?"}},
            },
            "tools": {"search": {"description": "Search", "implementation": "examples.fns.search"}},
        }
    )


def with_graph(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replace the root workflow by a two-node graph a -> b."""
    spec = spec or base_spec()
    spec["workflow"] = {
        "type": "graph",
        "start": "a",
        "nodes": {
            "a": {"id": "a", "kind": "agent", "ref": "writer"},
            "b": {"id": "b", "kind": "agent", "ref": "writer"},
        },
        "edges": [{"from": "a", "to": "b", "condition": {"type": "output_contains", "value": "x"}}],
    }
    return spec


def with_orchestration(kind: str, spec: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Replace the root workflow by a concurrent / handoff / group-chat workflow over writer."""
    spec = spec or base_spec()
    spec["workflow"] = {
        "type": kind,
        "participants": [
            {"id": "a", "kind": "agent", "ref": "writer"},
            {"id": "b", "kind": "agent", "ref": "writer"},
        ],
        **extra,
    }
    return spec
