"""The hash chain over the audit trail: each event carries its predecessor's hash and its own.

Events are linked when their transaction commits: the chain head row is locked (``FOR
UPDATE`` on PostgreSQL; SQLite has one writer) only for the final flush and the commit, so
concurrent writers queue on the head for milliseconds, never for a whole request.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from kneo.db import is_sqlite, isoformat, utcnow
from kneo.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64
HEAD_ID = 1
PRUNED_EVENT = "audit.pruned"
_UNLINKED = "kneo.audit.unlinked"


def canonical_content(audit: AuditEvent) -> bytes:
    """The bytes an event's hash covers: its position, predecessor and every recorded field."""
    document: dict[str, Any] = {
        "seq": audit.seq,
        "prev_hash": audit.prev_hash,
        "id": audit.id,
        "event_type": audit.event_type,
        "run_id": audit.run_id,
        "continuation_id": audit.continuation_id,
        "actor": audit.actor,
        "metadata": audit.event_metadata,
        "created_at": isoformat(audit.created_at),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def content_hash(audit: AuditEvent) -> str:
    return hashlib.sha256(canonical_content(audit)).hexdigest()


def track(session: Session, audit: AuditEvent) -> None:
    """Link ``audit`` into the chain when ``session`` commits."""
    session.info.setdefault(_UNLINKED, []).append(audit)
    if not event.contains(session, "before_commit", link_pending):
        event.listen(session, "before_commit", link_pending)
        event.listen(session, "after_transaction_end", _forget_pending)


def lock_head(session: Session) -> AuditChainHead:
    """The chain head, locked until the transaction ends."""
    stmt = select(AuditChainHead).where(AuditChainHead.id == HEAD_ID)
    if not is_sqlite(session):
        stmt = stmt.with_for_update()
    stmt = stmt.execution_options(populate_existing=True)
    head = session.execute(stmt).scalar_one_or_none()
    if head is None:  # the first link of a fresh (or data-restored) database; concurrent starters agree
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        genesis = {"id": HEAD_ID, "seq": 0, "hash": GENESIS_HASH, "updated_at": utcnow()}
        session.execute(insert(AuditChainHead).values(**genesis).on_conflict_do_nothing(index_elements=["id"]))
        head = session.execute(stmt).scalar_one()
    return head


def link_pending(session: Session) -> None:
    """Give every event this transaction recorded its place, predecessor and hash (before commit)."""
    pending = [a for a in session.info.pop(_UNLINKED, []) if a in session]
    if not pending:
        return
    session.flush()  # every other write first: on SQLite this takes the write lock before the head is read
    head = lock_head(session)
    for audit in pending:
        audit.seq = head.seq + 1
        audit.prev_hash = head.hash
        audit.hash = content_hash(audit)
        head.seq, head.hash = audit.seq, audit.hash
    head.updated_at = utcnow()
    session.flush()


def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    """A rolled-back transaction's events never reach the chain (after a commit nothing is left)."""
    if transaction.parent is None:
        session.info.pop(_UNLINKED, None)
