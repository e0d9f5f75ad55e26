"""Idempotency records (contract §4, fixed): one execution per (scope, principal, key), its
response stored for replay. Each function works in the caller's transaction."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kneo.config import Settings
from kneo.errors import Conflict
from kneo.models import IdempotencyRecord

log = logging.getLogger(__name__)

Ident = tuple[str, str, str]
"""(scope, principal, key)."""


@dataclass(frozen=True)
class Replay:
    """The stored response of a completed request with the same key."""

    body: Any
    status: int


def request_hash(payload: Any) -> str:
    """SHA-256 of the canonical JSON of the validated request."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def try_reserve(
    session: Session, ident: Ident, digest: str, now: datetime, settings: Settings
) -> datetime | Replay | None:
    """Reserve the key (returns the lease's end), or the completed response to replay, or None
    while another request holds it.

    A reservation whose lease lapsed belongs to a request that died between reserving and
    finishing; the first retry after the lease takes it over. 409 for a different payload.
    """
    lease = now + timedelta(seconds=settings.idempotency_lease_seconds)
    record = session.get(IdempotencyRecord, ident, populate_existing=True)
    ttl = timedelta(seconds=settings.idempotency_ttl_seconds)
    if record is not None and record.created_at + ttl < now:
        session.delete(record)
        session.flush()
        record = None
    if record is None:
        return lease if _insert_pending(session, ident, digest, now, lease) else None
    if record.request_hash != digest:
        raise Conflict(
            "Idempotency-Key was already used with a different request payload.",
            code="idempotency_key_conflict",
            scope=ident[0],
        )
    if record.state == "completed":
        return Replay(record.response, record.status_code or 200)
    if _lease_end(record, settings) <= now and _take_over(session, ident, record, now, lease):
        return lease
    return None


def complete(session: Session, ident: Ident, lease: datetime, body: Any, status: int, now: datetime) -> None:
    """Store the (redacted) response of the reservation that still holds ``lease``."""
    session.execute(
        update(IdempotencyRecord)
        .where(*_owned(ident, lease))
        .values(state="completed", response=body, status_code=status, updated_at=now)
    )


def release(session: Session, ident: Ident, lease: datetime) -> None:
    """Drop the reservation that still holds ``lease`` (its request failed)."""
    session.execute(delete(IdempotencyRecord).where(*_owned(ident, lease)))


def _key_of(ident: Ident) -> list[ColumnElement[bool]]:
    return [
        IdempotencyRecord.scope == ident[0],
        IdempotencyRecord.principal == ident[1],
        IdempotencyRecord.key == ident[2],
    ]


def _owned(ident: Ident, lease: datetime) -> list[ColumnElement[bool]]:
    """The reservation is still pending and still ours (nobody took it over after our lease)."""
    return [*_key_of(ident), IdempotencyRecord.state == "pending", IdempotencyRecord.lease_expires_at == lease]


def _lease_end(record: IdempotencyRecord, settings: Settings) -> datetime:
    return record.lease_expires_at or record.created_at + timedelta(seconds=settings.idempotency_lease_seconds)


def _insert_pending(session: Session, ident: Ident, digest: str, now: datetime, lease: datetime) -> bool:
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


def _take_over(session: Session, ident: Ident, record: IdempotencyRecord, now: datetime, lease: datetime) -> bool:
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
