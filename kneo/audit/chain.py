"""The hash chain over the audit trail: each event carries its predecessor's hash and its own.

Events are linked and inserted when their transaction commits: the chain head row is locked
(``FOR UPDATE`` on PostgreSQL; SQLite has one writer) only for that last insert and the commit,
so concurrent writers queue on the head for milliseconds, never for a whole request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy import insert as insert_rows
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kneo.db import is_sqlite, isoformat, utcnow
from kneo.models import AuditChainHead, AuditEvent
from kneo.writes import add_row, take_late, write_pending

GENESIS_HASH = "0" * 64
HEAD_ID = 1
PRUNED_EVENT = "audit.pruned"
AUDIT_EVENTS = AuditEvent.metadata.tables["audit_events"]
HEADS = AuditChainHead.metadata.tables["audit_chain_head"]


def canonical_content(audit: AuditEvent | Mapping[str, Any]) -> bytes:
    """The bytes an event's hash covers: its position, predecessor and every recorded field
    (``audit`` is a stored event or an ``audit_events`` row about to be inserted)."""
    fields = audit if isinstance(audit, Mapping) else _fields_of(audit)
    document: dict[str, Any] = {
        "seq": fields["seq"],
        "prev_hash": fields["prev_hash"],
        "id": fields["id"],
        "event_type": fields["event_type"],
        "run_id": fields["run_id"],
        "continuation_id": fields["continuation_id"],
        "actor": fields["actor"],
        "metadata": fields["metadata"],
        "created_at": isoformat(fields["created_at"]),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


def _fields_of(audit: AuditEvent) -> dict[str, Any]:
    return {
        "seq": audit.seq,
        "prev_hash": audit.prev_hash,
        "id": audit.id,
        "event_type": audit.event_type,
        "run_id": audit.run_id,
        "continuation_id": audit.continuation_id,
        "actor": audit.actor,
        "metadata": audit.event_metadata,
        "created_at": audit.created_at,
    }


def content_hash(audit: AuditEvent | Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_content(audit)).hexdigest()


def track(session: Session, row: dict[str, Any]) -> None:
    """Keep the ``audit_events`` row ``row`` to be linked into the chain and inserted at commit."""
    add_row(session, AUDIT_EVENTS, row, late=True)


def lock_head(session: Session) -> AuditChainHead:
    """The chain head, locked until the transaction ends."""
    stmt = select(AuditChainHead).where(AuditChainHead.id == HEAD_ID)
    if not is_sqlite(session):
        stmt = stmt.with_for_update()
    stmt = stmt.execution_options(populate_existing=True)
    head = session.execute(stmt).scalar_one_or_none()
    if head is None:
        _create_head(session)
        head = session.execute(stmt).scalar_one()
    return head


def _create_head(session: Session) -> None:
    """The first link of a fresh (or data-restored) database; concurrent starters agree."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    genesis = {"id": HEAD_ID, "seq": 0, "hash": GENESIS_HASH, "updated_at": utcnow()}
    session.execute(insert(HEADS).values(**genesis).on_conflict_do_nothing(index_elements=["id"]))


def _locked_head(session: Session) -> tuple[int, str]:
    """The head's ``(seq, hash)``, its row locked until the transaction ends."""
    stmt = select(HEADS.c.seq, HEADS.c.hash).where(HEADS.c.id == HEAD_ID)
    if not is_sqlite(session):
        stmt = stmt.with_for_update()
    found = session.execute(stmt).one_or_none()
    if found is None:
        _create_head(session)
        found = session.execute(stmt).one()
    return int(found.seq), str(found.hash)


def link_pending(session: Session) -> None:
    """Give every event this transaction recorded its place, predecessor and hash, and insert
    them (before commit; every other write first, so the head stays locked only until commit)."""
    rows = take_late(session, AUDIT_EVENTS)
    if not rows:
        return
    write_pending(session)
    session.flush()  # on SQLite this takes the write lock before the head is read
    seq, last = _locked_head(session)
    for row in rows:
        seq += 1
        row.update(seq=seq, prev_hash=last)
        last = row["hash"] = content_hash(row)
    session.execute(insert_rows(AUDIT_EVENTS), rows)
    session.execute(update(HEADS).where(HEADS.c.id == HEAD_ID).values(seq=seq, hash=last, updated_at=utcnow()))


if not event.contains(Session, "before_commit", link_pending):
    event.listen(Session, "before_commit", link_pending)
