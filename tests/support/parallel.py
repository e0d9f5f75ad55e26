"""Slow callables for the parallelism tests (allowed with KNEO_SERV_ALLOWED_MODULES=tests.support)."""

from __future__ import annotations

import os
import time


def long_nap(text: str) -> str:
    """Sleep KNEO_TEST_LONG_NAP seconds (default 2.0): finishes after its sibling."""
    time.sleep(float(os.environ.get("KNEO_TEST_LONG_NAP", "2.0")))
    return f"long: {text}"


def short_nap(text: str) -> str:
    """Sleep KNEO_TEST_SHORT_NAP seconds (default 1.0): finishes before its sibling."""
    time.sleep(float(os.environ.get("KNEO_TEST_SHORT_NAP", "1.0")))
    return f"short: {text}"
