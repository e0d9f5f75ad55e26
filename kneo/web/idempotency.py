"""Idempotency-Key handling (contract §4, fixed): per principal, one execution, replayed responses."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Response, request
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from kneo.db import transaction, utcnow
from kneo.errors import BadRequest, Conflict
from kneo.models import IdempotencyRecord
from kneo.redaction import redact
from kneo.web.auth import current_principal
from kneo.web.context import db, settings
from kneo.web.responses import json_response

MAX_KEY_CHARS = 256
WAIT_POLL_SECONDS = 0.05


def request_hash(payload: Any) -> str:
    """SHA-256 of the canonical JSON of the validated request."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


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
    digest = request_hash(payload)
    stored = _reserve(ident, digest)
    if stored is not None:
        return stored
    try:
        body, status = execute()
    except BaseException:
        _release(ident)
        raise
    redacted = redact(body)
    session = db()
    with transaction(session):
        record = session.get(IdempotencyRecord, ident)
        if record is not None:
            record.state, record.response, record.status_code = "completed", redacted, status
            record.updated_at = utcnow()
    return json_response(redacted, status, redacted=True)


def _reserve(ident: tuple[str, str, str], digest: str) -> Response | None:
    """Insert a pending record, or return the replay of a completed one (waiting while in flight)."""
    session = db()
    deadline = time.monotonic() + settings().client_timeout
    while True:
        now = utcnow()
        with transaction(session):
            record = session.get(IdempotencyRecord, ident, populate_existing=True)
            ttl = timedelta(seconds=settings().idempotency_ttl_seconds)
            if record is not None and record.created_at + ttl < now:
                session.delete(record)
                session.flush()
                record = None
            if record is None:
                try:
                    with session.begin_nested():
                        session.add(
                            IdempotencyRecord(
                                scope=ident[0],
                                principal=ident[1],
                                key=ident[2],
                                request_hash=digest,
                                state="pending",
                                created_at=now,
                                updated_at=now,
                            )
                        )
                    return None
                except IntegrityError:
                    record = None
            elif record.request_hash != digest:
                raise Conflict(
                    "Idempotency-Key was already used with a different request payload.",
                    code="idempotency_key_conflict",
                    scope=ident[0],
                )
            elif record.state == "completed":
                return json_response(record.response, record.status_code or 200, redacted=True)
        if time.monotonic() > deadline:
            raise Conflict(
                "A request with this Idempotency-Key is still in progress.",
                code="idempotency_key_in_progress",
                scope=ident[0],
            )
        time.sleep(WAIT_POLL_SECONDS)


def _release(ident: tuple[str, str, str]) -> None:
    session = db()
    session.rollback()
    with transaction(session):
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == ident[0],
                IdempotencyRecord.principal == ident[1],
                IdempotencyRecord.key == ident[2],
                IdempotencyRecord.state == "pending",
            )
        )
