"""Workflow kinds of the pure engine; ``HANDLERS`` maps a workflow ``type`` to its handler."""

from __future__ import annotations

from collections.abc import Mapping

from .frames import KindHandler
from .graph import Graph
from .orchestration import Concurrent, Turns
from .sequential import Sequential

HANDLERS: Mapping[str, KindHandler] = {
    "sequential": Sequential(),
    "graph": Graph(),
    "concurrent": Concurrent(),
    "handoff": Turns(),
    "group-chat": Turns(),
}

__all__ = ["HANDLERS", "KindHandler"]
