"""Audit records, written in the same transaction as the change they describe."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kneo.audit import chain
from kneo.db import isoformat, utcnow
from kneo.models import AuditEvent, new_id
from kneo.redaction import IDENTITY_KEYS, redact


def record_audit(
    session: Session,
    event_type: str,
    *,
    actor: str | None,
    run_id: str | None = None,
    continuation_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record an audit event (metadata redacted), linked into the chain and inserted when the
    caller commits; returns its ``audit_events`` row."""
    row = {
        "id": new_id(),
        "event_type": event_type,
        "actor": actor,
        "run_id": run_id,
        "continuation_id": continuation_id,
        "metadata": redact(dict(metadata or {}), keep=IDENTITY_KEYS),
        "created_at": now or utcnow(),
    }
    chain.track(session, row)
    return row


def audit_event_view(event: AuditEvent, include_hashes: bool = False) -> dict[str, Any]:
    """The contract's audit event shape, with its chain link when asked for."""
    view: dict[str, Any] = {
        "id": event.id,
        "event_type": event.event_type,
        "run_id": event.run_id,
        "continuation_id": event.continuation_id,
        "actor": event.actor,
        "metadata": event.event_metadata,
        "created_at": isoformat(event.created_at),
    }
    if include_hashes:
        view.update(seq=event.seq, prev_hash=event.prev_hash, hash=event.hash)
    return view
