"""Walk the audit hash chain and report the first altered, inserted or deleted event.

Retention removes links in two ways, each recorded by an ``audit.pruned`` anchor that is itself
a link of the chain: a prefix (``pruned_through_seq`` and its hash), and the events of pruned
runs (``removed``: position, predecessor hash and hash of each). A gap is legitimate only where
an anchor accounts for every missing position and the hashes still join up across it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

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


@dataclass
class Anchors:
    """What the ``audit.pruned`` anchors say was removed."""

    prefix_seq: int = 0
    prefix_hash: str = GENESIS_HASH
    removed: dict[int, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def read(cls, session: Session) -> Anchors:
        anchors = cls()
        stmt = select(AuditEvent.event_metadata).where(AuditEvent.event_type == PRUNED_EVENT)
        for (metadata,) in session.execute(stmt):
            through = metadata.get("pruned_through_seq")
            if isinstance(through, int) and through > anchors.prefix_seq:
                anchors.prefix_seq, anchors.prefix_hash = through, str(metadata.get("pruned_through_hash"))
            for seq, prev_hash, hash_ in metadata.get("removed") or []:
                anchors.removed[int(seq)] = (str(prev_hash), str(hash_))
        return anchors


@dataclass
class Walk:
    """The position and hash the next link must have."""

    anchors: Anchors
    expected_seq: int
    expected_prev: str
    checked: int = 0

    def bridge(self, upto: int) -> None:
        """Cross missing positions before ``upto``; each must be a recorded removal that joins up."""
        start = self.expected_seq
        while self.expected_seq < upto:
            link = self.anchors.removed.get(self.expected_seq)
            if link is None:
                raise ChainBroken(
                    f"events {start}..{upto - 1} were deleted and no audit.pruned anchor records their removal"
                )
            if link[0] != self.expected_prev:
                raise ChainBroken(f"removed event {self.expected_seq} does not follow its predecessor")
            self.expected_prev, self.expected_seq = link[1], self.expected_seq + 1

    def check(self, audit: AuditEvent) -> None:
        seq = int(audit.seq or 0)
        self.bridge(seq)
        if audit.prev_hash != self.expected_prev:
            raise ChainBroken(f"event {seq} (id {audit.id}) does not follow event {seq - 1}: inserted or re-linked")
        if content_hash(audit) != audit.hash:
            raise ChainBroken(f"event {seq} (id {audit.id}, {audit.event_type}) was altered")
        self.expected_prev, self.expected_seq, self.checked = str(audit.hash), seq + 1, self.checked + 1


def _chained(session: Session, after: int) -> Iterator[AuditEvent]:
    """Chained events past ``after`` in chain order, read in batches."""
    while True:
        stmt = select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(BATCH)
        batch = session.execute(stmt).scalars().all()
        yield from batch
        if len(batch) < BATCH:
            return
        after = int(batch[-1].seq or 0)


def verify_chain(session: Session) -> ChainReport:
    """Check every link; raise :class:`ChainBroken` at the first problem."""
    head = session.get(AuditChainHead, HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    anchors = Anchors.read(session)
    walk = Walk(anchors, anchors.prefix_seq + 1, anchors.prefix_hash)
    first_seq: int | None = None
    first_created: datetime | None = None
    for audit in _chained(session, anchors.prefix_seq):
        if first_seq is None:
            first_seq, first_created = int(audit.seq or 0), audit.created_at
        walk.check(audit)
    last_seq = walk.expected_seq - 1
    if head_seq != last_seq or head_hash != walk.expected_prev:
        raise ChainBroken(f"the chain head is at event {head_seq} but the last event present is {last_seq}")
    unlinked = select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
    if first_created is not None:
        inserted = session.execute(unlinked.where(AuditEvent.created_at >= first_created)).scalar_one()
        if inserted:
            raise ChainBroken(f"{inserted} event(s) without a chain link were inserted after the chain began")
    predating = session.execute(unlinked).scalar_one()
    return ChainReport(checked=walk.checked, first_seq=first_seq, last_seq=last_seq, predating=int(predating))
