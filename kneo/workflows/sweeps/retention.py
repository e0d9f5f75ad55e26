"""Retention use cases: delete what is finished and old, one bounded batch per call.

Unlike the 0.4 reference (contract §14.6, §18 item 25) retention prunes ``expired`` runs,
audit events and idempotency records, and never touches the checkpoints or trace events of a
run that can still change. As the operation guide promises, a run and its audit events age out
together under the runs window; the audit window also ages out events of runs still kept.
Removed audit events leave an ``audit.pruned`` anchor, so the hash chain still verifies.
Every batch selects its rows with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so two beats split
the work instead of racing, and a run that a request is changing right now is simply left for
the next pass. Use cases take a session, never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, delete, select, tuple_
from sqlalchemy.orm import Session

from kneo.audit.chain import PRUNED_EVENT, lock_head
from kneo.audit.record import record_audit
from kneo.config import Retention
from kneo.db import is_sqlite
from kneo.models import AuditEvent, Checkpoint, HumanTask, IdempotencyRecord, Run, RunStatus, StepRun, TraceEvent
from kneo.workflows.sweeps.common import BATCH

TERMINAL = sorted(RunStatus.TERMINAL)

Pruner = Callable[[Session, datetime, int], dict[str, int]]


def cutoffs(now: datetime, retention: Retention, idempotency_ttl_seconds: int) -> dict[str, datetime]:
    """The cut-off time of each category; a category without a window is never pruned.

    Idempotency records without their own window are pruned once their replay TTL has passed
    (they can never be replayed again, and the reference kept them for ever).
    """
    windows = {
        "runs": retention.runs_days,
        "checkpoints": retention.checkpoints_days,
        "trace_events": retention.trace_days,
        "audit_events": retention.audit_days,
    }
    result = {name: now - timedelta(days=days) for name, days in windows.items() if days is not None}
    if retention.idempotency_days is not None:
        result["idempotency_records"] = now - timedelta(days=retention.idempotency_days)
    else:
        result["idempotency_records"] = now - timedelta(seconds=idempotency_ttl_seconds)
    return result


def _rows(session: Session, stmt: Any, *lock_of: Any) -> list[Any]:
    if not is_sqlite(session):
        stmt = stmt.with_for_update(skip_locked=True, of=list(lock_of) or None)
    return list(session.execute(stmt).all())


def _deleted(session: Session, stmt: Delete) -> int:
    result = cast(CursorResult[Any], session.execute(stmt.execution_options(synchronize_session=False)))
    return int(result.rowcount or 0)


def prune_runs(session: Session, cutoff: datetime, limit: int = BATCH) -> dict[str, int]:
    """Delete up to ``limit`` terminal runs last changed before ``cutoff``, with everything of theirs
    (steps, checkpoints, trace and audit events, human tasks)."""
    rows = _rows(
        session,
        select(Run.id)
        .where(Run.status.in_(TERMINAL), Run.updated_at < cutoff)
        .order_by(Run.updated_at, Run.id)
        .limit(limit),
    )
    ids = [row[0] for row in rows]
    if not ids:
        return {"runs": 0}
    counts = {
        "step_runs": _deleted(session, delete(StepRun).where(StepRun.run_id.in_(ids))),
        "checkpoints": _deleted(session, delete(Checkpoint).where(Checkpoint.run_id.in_(ids))),
        "trace_events": _deleted(session, delete(TraceEvent).where(TraceEvent.run_id.in_(ids))),
        "human_tasks": _deleted(session, delete(HumanTask).where(HumanTask.run_id.in_(ids))),
        "audit_events": _delete_run_audit_events(session, ids),
    }
    counts["runs"] = _deleted(session, delete(Run).where(Run.id.in_(ids), Run.status.in_(TERMINAL)))
    return counts


def _delete_run_audit_events(session: Session, run_ids: list[str]) -> int:
    """Delete the runs' audit events; an ``audit.pruned`` anchor records each removed link."""
    lock_head(session)
    links = session.execute(
        select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash)
        .where(AuditEvent.run_id.in_(run_ids), AuditEvent.seq.is_not(None))
        .order_by(AuditEvent.seq)
    ).all()
    deleted = _deleted(session, delete(AuditEvent).where(AuditEvent.run_id.in_(run_ids)))
    if links:
        record_audit(session, PRUNED_EVENT, actor=None, metadata=_anchor(session, links, "runs"))
    return deleted


def _prune_run_records(session: Session, model: Any, stamp: Any, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` rows of ``model`` older than ``cutoff`` that belong to terminal runs.

    The run rows are locked too, so a run cannot be continued (failed → running) while its
    records go.
    """
    rows = _rows(
        session,
        select(model.id).join(Run, Run.id == model.run_id).where(stamp < cutoff, Run.status.in_(TERMINAL)).limit(limit),
        model,
        Run,
    )
    ids = [row[0] for row in rows]
    return _deleted(session, delete(model).where(model.id.in_(ids))) if ids else 0


def prune_checkpoints(session: Session, cutoff: datetime, limit: int = BATCH) -> dict[str, int]:
    """Delete up to ``limit`` checkpoints older than ``cutoff`` of terminal runs only."""
    return {"checkpoints": _prune_run_records(session, Checkpoint, Checkpoint.created_at, cutoff, limit)}


def prune_trace_events(session: Session, cutoff: datetime, limit: int = BATCH) -> dict[str, int]:
    """Delete up to ``limit`` trace events older than ``cutoff`` of terminal runs only."""
    return {"trace_events": _prune_run_records(session, TraceEvent, TraceEvent.timestamp, cutoff, limit)}


def prune_audit_events(session: Session, cutoff: datetime, limit: int = BATCH) -> dict[str, int]:
    """Delete up to ``limit`` audit events recorded before ``cutoff``, oldest links first.

    The chain head stays locked meanwhile (one pruner at a time); an ``audit.pruned`` anchor
    records what was cut, so verification still joins the chain up across it.
    """
    lock_head(session)
    old_unlinked = select(AuditEvent.id).where(AuditEvent.seq.is_(None), AuditEvent.created_at < cutoff).limit(limit)
    deleted = _deleted(session, delete(AuditEvent).where(AuditEvent.id.in_(old_unlinked)))
    links = session.execute(
        select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash)
        .where(AuditEvent.seq.is_not(None), AuditEvent.created_at < cutoff)
        .order_by(AuditEvent.seq)
        .limit(limit)
    ).all()
    if links:
        deleted += _deleted(session, delete(AuditEvent).where(AuditEvent.seq.in_([link.seq for link in links])))
        record_audit(session, PRUNED_EVENT, actor=None, metadata=_anchor(session, links, "audit_window"))
    return {"audit_events": deleted}


def _anchor(session: Session, links: Sequence[Any], reason: str) -> dict[str, Any]:
    """The anchor of removed links: the compact prefix form when nothing older is left."""
    last = links[-1]
    older_left = session.execute(select(AuditEvent.seq).where(AuditEvent.seq < last.seq).limit(1)).first()
    if older_left is None:
        return {"reason": reason, "pruned_through_seq": last.seq, "pruned_through_hash": last.hash, "count": len(links)}
    return {"reason": reason, "removed": [[link.seq, link.prev_hash, link.hash] for link in links], "count": len(links)}


def prune_idempotency_records(session: Session, cutoff: datetime, limit: int = BATCH) -> dict[str, int]:
    """Delete up to ``limit`` idempotency records created before ``cutoff``."""
    key = tuple_(IdempotencyRecord.scope, IdempotencyRecord.principal, IdempotencyRecord.key)
    rows = _rows(
        session,
        select(IdempotencyRecord.scope, IdempotencyRecord.principal, IdempotencyRecord.key)
        .where(IdempotencyRecord.created_at < cutoff)
        .order_by(IdempotencyRecord.created_at)
        .limit(limit),
    )
    keys = [tuple(row) for row in rows]
    if not keys:
        return {"idempotency_records": 0}
    return {"idempotency_records": _deleted(session, delete(IdempotencyRecord).where(key.in_(keys)))}


PRUNERS: Mapping[str, Pruner] = {
    "runs": prune_runs,
    "checkpoints": prune_checkpoints,
    "trace_events": prune_trace_events,
    "audit_events": prune_audit_events,
    "idempotency_records": prune_idempotency_records,
}
