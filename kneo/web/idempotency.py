"""The Idempotency-Key header (contract §4): one execution per principal and key, replayed responses."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response, request

from kneo.db import transaction, utcnow
from kneo.errors import BadRequest, Conflict
from kneo.redaction import redact
from kneo.web.auth import current_principal
from kneo.web.request_scope import db, settings
from kneo.web.responses import json_response
from kneo.workflows import idempotency
from kneo.workflows.idempotency import Ident, Replay, request_hash

MAX_KEY_CHARS = 256
WAIT_POLL_SECONDS = 0.05


def presented_idempotency_key() -> str | None:
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if not key:
        return None
    if len(key) > MAX_KEY_CHARS:
        raise BadRequest("Idempotency-Key must be 256 characters or fewer.", code="invalid_idempotency_key")
    return key


def idempotent(scope: str, payload: Any, execute: Callable[[], tuple[dict[str, Any], int]]) -> Response:
    """Run ``execute`` once per (scope, principal, key); replay its stored response afterwards."""
    key = presented_idempotency_key()
    if key is None:
        body, status = execute()
        return json_response(body, status)
    ident = (scope, current_principal().name, key)
    reserved = _reserve(ident, request_hash(payload))
    if isinstance(reserved, Replay):
        return json_response(reserved.body, reserved.status, redacted=True)
    try:
        body, status = execute()
    except BaseException:
        _release(ident, reserved)
        raise
    redacted = redact(body)
    session = db()
    with transaction(session):
        idempotency.complete(session, ident, reserved, redacted, status, utcnow())
    return json_response(redacted, status, redacted=True)


def _reserve(ident: Ident, digest: str) -> datetime | Replay:
    """Reserve the key or find the response to replay, waiting while another request holds it."""
    session = db()
    deadline = time.monotonic() + settings().client_timeout
    while True:
        with transaction(session):
            outcome = idempotency.try_reserve(session, ident, digest, utcnow(), settings())
        if outcome is not None:
            return outcome
        if time.monotonic() > deadline:
            raise Conflict(
                "A request with this Idempotency-Key is still in progress.",
                code="idempotency_key_in_progress",
                scope=ident[0],
            )
        time.sleep(WAIT_POLL_SECONDS)


def _release(ident: Ident, lease: datetime) -> None:
    session = db()
    session.rollback()
    with transaction(session):
        idempotency.release(session, ident, lease)
