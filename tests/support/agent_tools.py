"""Python tools for native-agent tests (allowed with KNEO_SERV_ALLOWED_MODULES=tests.support).

A tool handler receives one mapping, the tool-call arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

calls: list[dict[str, Any]] = []


def add(arguments: Mapping[str, Any]) -> str:
    calls.append(dict(arguments))
    return str(int(arguments.get("a", 0)) + int(arguments.get("b", 0)))


def fetch(arguments: Mapping[str, Any]) -> str:
    calls.append(dict(arguments))
    return f"fetched {arguments.get('url')}"


def leak(arguments: Mapping[str, Any]) -> str:
    """Returns a configured secret (KNEO_TEST_TOOL_API_KEY): the platform must scrub it."""
    return f"the key is {os.environ.get('KNEO_TEST_TOOL_API_KEY', '')}"


def no_ssn(payload: str) -> dict[str, Any]:
    """A guardrail function: fails when the payload mentions an SSN."""
    return {"passed": "ssn" not in payload.lower(), "message": "mentions an SSN"}


def summarize(text: str) -> str:
    return f"{len(text.splitlines())} earlier messages"


def out_of_time(arguments: Mapping[str, Any]) -> str:
    """Behaves like a step whose Celery soft time limit fires while the tool runs."""
    from celery.exceptions import SoftTimeLimitExceeded

    raise SoftTimeLimitExceeded()
