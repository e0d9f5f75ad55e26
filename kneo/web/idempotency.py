"""Idempotency-Key handling (contract §4, fixed): per principal, one execution, replayed responses."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Response, request
from sqlalchemy import ColumnElement, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kneo.db import transaction, utcnow
from kneo.errors import BadRequest, Conflict
from kneo.models import IdempotencyRecord
from kneo.redaction import redact
from kneo.web.auth import current_principal
from kneo.web.context import db, settings
from kneo.web.responses import json_response

log = logging.getLogger(__name__)
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
    reserved = _reserve(ident, request_hash(payload))
    if isinstance(reserved, Response):
        return reserved
    try:
        body, status = execute()
    except BaseException:
        _release(ident, reserved)
        raise
    redacted = redact(body)
    session = db()
    with transaction(session):
        session.execute(
            update(IdempotencyRecord)
            .where(*_owned(ident, reserved))
            .values(state="completed", response=redacted, status_code=status, updated_at=utcnow())
        )
    return json_response(redacted, status, redacted=True)


def _key_of(ident: tuple[str, str, str]) -> list[ColumnElement[bool]]:
    return [
        IdempotencyRecord.scope == ident[0],
        IdempotencyRecord.principal == ident[1],
        IdempotencyRecord.key == ident[2],
    ]


def _owned(ident: tuple[str, str, str], lease: datetime) -> list[ColumnElement[bool]]:
    """The reservation is still pending and still ours (nobody took it over after our lease)."""
    return [*_key_of(ident), IdempotencyRecord.state == "pending", IdempotencyRecord.lease_expires_at == lease]


def _lease_end(record: IdempotencyRecord) -> datetime:
    return record.lease_expires_at or record.created_at + timedelta(seconds=settings().idempotency_lease_seconds)


def _reserve(ident: tuple[str, str, str], digest: str) -> datetime | Response:
    """Reserve the key (returns the lease's end) or replay a completed response, waiting while in flight.

    A reservation whose lease lapsed belongs to a request that died between reserving and
    finishing; the first retry after the lease takes it over.
    """
    session = db()
    deadline = time.monotonic() + settings().client_timeout
    while True:
        now = utcnow()
        lease = now + timedelta(seconds=settings().idempotency_lease_seconds)
        with transaction(session):
            record = session.get(IdempotencyRecord, ident, populate_existing=True)
            ttl = timedelta(seconds=settings().idempotency_ttl_seconds)
            if record is not None and record.created_at + ttl < now:
                session.delete(record)
                session.flush()
                record = None
            if record is None:
                if _insert_pending(session, ident, digest, now, lease):
                    return lease
            elif record.request_hash != digest:
                raise Conflict(
                    "Idempotency-Key was already used with a different request payload.",
                    code="idempotency_key_conflict",
                    scope=ident[0],
                )
            elif record.state == "completed":
                return json_response(record.response, record.status_code or 200, redacted=True)
            elif _lease_end(record) <= now and _take_over(session, ident, record, now, lease):
                return lease
        if time.monotonic() > deadline:
            raise Conflict(
                "A request with this Idempotency-Key is still in progress.",
                code="idempotency_key_in_progress",
                scope=ident[0],
            )
        time.sleep(WAIT_POLL_SECONDS)


def _insert_pending(session: Session, ident: tuple[str, str, str], digest: str, now: datetime, lease: datetime) -> bool:
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
                    lease_expires_at=lease,
                )
            )
        return True
    except IntegrityError:
        return False


def _take_over(
    session: Session, ident: tuple[str, str, str], record: IdempotencyRecord, now: datetime, lease: datetime
) -> bool:
    """Move a lapsed lease to this request; exactly one of several concurrent retries wins."""
    previous = IdempotencyRecord.lease_expires_at
    stale = previous.is_(None) if record.lease_expires_at is None else previous == record.lease_expires_at
    taken = session.execute(
        update(IdempotencyRecord)
        .where(*_key_of(ident), IdempotencyRecord.state == "pending", stale)
        .values(lease_expires_at=lease, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        log.warning("idempotency reservation %s/%s taken over after its lease lapsed", ident[0], ident[2][:16])
        return True
    return False


def _release(ident: tuple[str, str, str], lease: datetime) -> None:
    session = db()
    session.rollback()
    with transaction(session):
        session.execute(delete(IdempotencyRecord).where(*_owned(ident, lease)))
