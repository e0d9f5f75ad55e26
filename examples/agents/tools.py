"""Python tools for the agent examples (trusted by `kneo serve` from the repository root; a deployment
with a broker allows them with KNEO_SERV_ALLOWED_MODULES=examples).

A tool handler receives one mapping, the arguments of the model's tool call; its return value is
stringified and sent back to the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def word_stats(arguments: Mapping[str, Any]) -> dict[str, int]:
    """Words, characters and lines of ``text``."""
    text = str(arguments.get("text", ""))
    return {"words": len(text.split()), "characters": len(text), "lines": len(text.splitlines()) or 1}


def utc_now(arguments: Mapping[str, Any]) -> str:
    """The current UTC time (ISO 8601)."""
    return datetime.now(UTC).isoformat(timespec="seconds")
