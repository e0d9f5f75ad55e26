"""Correlation context shared by the web tier and the workers (no framework imports)."""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("kneo_request_id", default=None)
"""The X-Request-ID of the request being served, or of the request a step message came from."""

REQUEST_ID_HEADER = "kneo_request_id"
"""The Celery message header that carries it."""
