"""The published kneo-serv 1.2.0, installed from the package index and run as a black box.

It lives in a cached virtualenv of its own (Python >= 3.12, see :mod:`tests.support.clients`);
failing to install or start it fails the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.clients import pinned_venv, start_bff

# 1.2.0 serves with this FastAPI; newer releases change its request validation.
PINS = ("kneo-serv[deploy]==1.2.0", "fastapi==0.140.0")


@contextmanager
def reference_server(scratch: Path) -> Iterator[str]:
    """Start kneo-serv 1.2.0 without API keys in ``scratch``; yields its base URL."""
    (scratch / "tmp").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KNEO_") and k != "PYTHONPATH"}
    env["TMPDIR"] = str(scratch / "tmp")
    server = start_bff("kneo_serv.service.app:app", env, scratch, "/healthz", venv=pinned_venv(PINS))
    try:
        yield server.base_url
    finally:
        server.stop()
