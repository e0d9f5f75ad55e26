"""Callables that test specs reference (allowed with KNEO_SERV_ALLOWED_MODULES=tests.support)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def upper(text: str) -> str:
    return text.upper()


def slow(text: str) -> str:
    """Sleep for the seconds in KNEO_TEST_SLOW_SECONDS (default 0.3), then echo."""
    time.sleep(float(os.environ.get("KNEO_TEST_SLOW_SECONDS", "0.3")))
    return f"slow: {text}"


def marked_slow(text: str) -> str:
    """Touch a marker file named after the input (so a test knows the step started), then sleep."""
    marker_dir = Path(os.environ.get("KNEO_TEST_MARKER_DIR", "/tmp"))
    (marker_dir / f"started-{os.getpid()}-{time.time_ns()}").write_text(text)
    time.sleep(float(os.environ.get("KNEO_TEST_SLOW_SECONDS", "3")))
    return f"done: {text}"


def boom(text: str) -> str:
    raise ValueError(f"boom on {text}")


_counts: dict[str, int] = {}


def flaky(text: str) -> str:
    """Fail the first attempt for each input in this process, then succeed."""
    _counts[text] = _counts.get(text, 0) + 1
    if _counts[text] == 1:
        raise RuntimeError("transient failure")
    return f"recovered: {text}"


def hang(text: str) -> str:
    time.sleep(3600)
    return text


def fail_once_per_marker(text: str) -> str:
    """Fail while the marker file (KNEO_TEST_MARKER_DIR/<text>.ok) is absent; create it on the way out."""
    marker = Path(os.environ.get("KNEO_TEST_MARKER_DIR", "/tmp")) / f"{text}.ok"
    if not marker.exists():
        marker.write_text("seen")
        raise RuntimeError(f"first attempt for {text} fails")
    return f"second time lucky: {text}"


def spin(text: str) -> str:
    """Busy-loop in Python for an hour (a hung step that holds the GIL between bytecodes)."""
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        pass
    return text


def lone_surrogate(text: str) -> str:
    """Answer with a lone surrogate, which no UTF-8 text (and so no database column) can hold."""
    return text + "\ud800"
