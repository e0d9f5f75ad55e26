"""Helpers for the ops tests (no tests here): a private Redis server per topology.

Several test runs may share this machine's Redis; a private server keeps their Celery messages
apart (a step message consumed by another run's worker would never be claimed here).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.services import start_private_redis


@contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """A redis-server on a free loopback port for the duration of the block; yields its URL."""
    process, url = start_private_redis(workdir)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
