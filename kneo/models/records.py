"""Checkpoints, trace events, audit events, human tasks, idempotency records, policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kneo.models.base import Base, JsonType, new_id


class Checkpoint(Base):
    """A snapshot of a run at one transition; ``sequence`` is unique per run."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "sequence"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    workflow_name: Mapped[str | None] = mapped_column(String(255))
    step_id: Mapped[str | None] = mapped_column(String(255))
    node_id: Mapped[str | None] = mapped_column(String(255))
    iteration: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    trace_events: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    checkpoint_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)
    # The run's first N messages belong to this snapshot; they are stored once, on the run.
    # None: an older row whose ``state`` holds its own copy of the messages.
    message_count: Mapped[int | None] = mapped_column(Integer, default=None)


class TraceEvent(Base):
    """One trace event of a run, ordered by ``sequence``."""

    __tablename__ = "trace_events"
    __table_args__ = (UniqueConstraint("run_id", "sequence"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType)


class AuditEvent(Base):
    """An append-only audit record, written in the transaction of the change it records."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_type_created", "event_type", "created_at"),
        Index("ix_audit_events_run_created", "run_id", "created_at"),
        Index("ix_audit_events_created_at_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    event_type: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64))
    continuation_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(255))
    event_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    created_at: Mapped[datetime]
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last link of the audit hash chain (one row); locked while a transaction links its events."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class HumanTask(Base):
    """A paused human step (the continuation); resolved exactly once."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_tasks_status_expires", "status", "expires_at"),
        Index("ix_human_tasks_status_id", "status", "id"),
        Index("ix_human_tasks_status_created_at", "status", "created_at", "id"),
        Index("ix_human_tasks_assignee_status", "assignee", "status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    step_run_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    workflow_name: Mapped[str | None] = mapped_column(String(255))
    workflow_kind: Mapped[str | None] = mapped_column(String(32))
    step_id: Mapped[str] = mapped_column(String(255))
    current_step_index: Mapped[int | None] = mapped_column(Integer)
    current_node_id: Mapped[str | None] = mapped_column(String(255))
    current_input: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict[str, Any]] = mapped_column(JsonType)
    request_id: Mapped[str] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(255))
    on_timeout: Mapped[str] = mapped_column(String(16), default="fail")
    expires_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    original_expires_at: Mapped[datetime | None]
    decision: Mapped[str | None] = mapped_column(String(32))
    decision_content: Mapped[str | None] = mapped_column(Text)
    selected_option: Mapped[str | None] = mapped_column(String(4096))
    reviewer: Mapped[str | None] = mapped_column(String(255))
    decision_metadata: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    context: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IdempotencyRecord(Base):
    """A stored response for an Idempotency-Key, scoped per principal and operation."""

    __tablename__ = "idempotency_records"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    lease_expires_at: Mapped[datetime | None]


class EnvironmentPolicy(Base):
    """The enforcement policy of one environment."""

    __tablename__ = "environment_policies"

    environment: Mapped[str] = mapped_column(String(128), primary_key=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JsonType)
    updated_by: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime]


class Lock(Base):
    """A named lock row; used where the database has no row-lock primitive (SQLite)."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
