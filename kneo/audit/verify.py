"""Walk the audit hash chain and report the first altered, inserted or deleted event."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kneo.audit.chain import GENESIS_HASH, HEAD_ID, PRUNED_EVENT, content_hash
from kneo.models import AuditChainHead, AuditEvent

BATCH = 1000


class ChainBroken(Exception):
    """The chain does not verify; the message names the first problem."""


@dataclass(frozen=True)
class ChainReport:
    """A verified chain: how many links were checked, where it starts, and older unlinked events."""

    checked: int
    first_seq: int | None
    last_seq: int
    predating: int


def _chained(session: Session) -> Iterator[AuditEvent]:
    """Chained events in chain order, read in batches."""
    after = 0
    while True:
        batch = (
            session.execute(select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(BATCH))
            .scalars()
            .all()
        )
        yield from batch
        if len(batch) < BATCH:
            return
        after = int(batch[-1].seq or 0)


def _start_hash(session: Session, first: AuditEvent) -> str:
    """The hash the first remaining event must follow: genesis, or a prune anchor's record of the cut."""
    seq = int(first.seq or 0)
    if seq == 1:
        return GENESIS_HASH
    anchors = session.execute(
        select(AuditEvent).where(AuditEvent.event_type == PRUNED_EVENT).order_by(AuditEvent.seq.desc())
    ).scalars()
    for anchor in anchors:
        if anchor.event_metadata.get("pruned_through_seq") == seq - 1:
            return str(anchor.event_metadata.get("pruned_through_hash"))
    raise ChainBroken(f"events 1..{seq - 1} are missing and no audit.pruned anchor records their removal")


def verify_chain(session: Session) -> ChainReport:
    """Check every link; raise :class:`ChainBroken` at the first problem."""
    head = session.get(AuditChainHead, HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    checked, first_seq, expected_seq, expected_prev = 0, None, 0, GENESIS_HASH
    first_created = None
    for audit in _chained(session):
        seq = int(audit.seq or 0)
        if first_seq is None:
            first_seq, expected_seq, expected_prev = seq, seq, _start_hash(session, audit)
            first_created = audit.created_at
        if seq != expected_seq:
            raise ChainBroken(f"events {expected_seq}..{seq - 1} were deleted (next present: {seq}, id {audit.id})")
        if audit.prev_hash != expected_prev:
            raise ChainBroken(f"event {seq} (id {audit.id}) does not follow event {seq - 1}: inserted or re-linked")
        if content_hash(audit) != audit.hash:
            raise ChainBroken(f"event {seq} (id {audit.id}, {audit.event_type}) was altered")
        expected_prev, expected_seq, checked = audit.hash, seq + 1, checked + 1
    last_seq = expected_seq - 1 if first_seq is not None else 0
    if head_seq != last_seq or (checked and head_hash != expected_prev):
        raise ChainBroken(f"the chain head is at event {head_seq} but the last event present is {last_seq}")
    unlinked = select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
    if first_created is not None:
        inserted = session.execute(unlinked.where(AuditEvent.created_at >= first_created)).scalar_one()
        if inserted:
            raise ChainBroken(f"{inserted} event(s) without a chain link were inserted after the chain began")
    predating = session.execute(unlinked).scalar_one()
    return ChainReport(checked=checked, first_seq=first_seq, last_seq=last_seq, predating=int(predating))
