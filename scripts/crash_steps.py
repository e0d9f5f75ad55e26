"""Step callables of ``scripts/crash_conformance.py`` (allowed there as KNEO_SERV_ALLOWED_MODULES=crash_steps)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def quick(text: str) -> str:
    return text.upper()


def slow(text: str) -> str:
    """Leave a marker (so the harness knows the step started), then take a few seconds."""
    marker_dir = Path(os.environ.get("KNEO_CONFORMANCE_MARKER_DIR", "/tmp"))
    (marker_dir / f"started-{os.getpid()}-{time.time_ns()}").write_text(text)
    time.sleep(float(os.environ.get("KNEO_CONFORMANCE_SLOW_SECONDS", "3")))
    return f"done: {text}"
