"""Runs and their executable units (step runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kneo.models.base import Base, JsonType, new_id

MAX_SESSION_ID_CHARS = 512


class RunStatus:
    """Run status strings of contract §8.2."""

    RUNNING = "running"
    BLOCKED = "blocked"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    TIMED_OUT = "timed_out"

    TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED, EXPIRED, TIMED_OUT})
    SETTLED = TERMINAL | {BLOCKED}


class StepStatus:
    """Status of one executable unit."""

    QUEUED = "queued"
    RETRYING = "retrying"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    CLAIMABLE = (QUEUED, RETRYING)
    OPEN = frozenset({QUEUED, RETRYING, RUNNING})


class Run(Base):
    """A run of a compiled spec; the compiled plan is stored with it."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_updated_at_id", "updated_at", "id"),
        Index("ix_runs_created_at_id", "created_at", "id"),
        Index("ix_runs_status_updated_at_id", "status", "updated_at", "id"),
        Index("ix_runs_workflow_name_updated_at_id", "workflow_name", "updated_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(16), default="workflow")
    agent_name: Mapped[str | None] = mapped_column(String(255))
    workflow_name: Mapped[str | None] = mapped_column(String(255))
    workflow_kind: Mapped[str | None] = mapped_column(String(32))
    environment: Mapped[str | None] = mapped_column(String(4096))
    session_id: Mapped[str | None] = mapped_column(String(MAX_SESSION_ID_CHARS), index=True)
    input_text: Mapped[str | None] = mapped_column(Text)
    output_text: Mapped[str | None] = mapped_column(Text)
    current_step_index: Mapped[int | None] = mapped_column(Integer)
    current_step_id: Mapped[str | None] = mapped_column(String(255))
    current_node_id: Mapped[str | None] = mapped_column(String(255))
    visited_steps: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    visited_nodes: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    messages: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    variables: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    pending_human_request: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    continuation_id: Mapped[str | None] = mapped_column(String(64))
    run_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    plan: Mapped[dict[str, Any]] = mapped_column(JsonType, deferred=True)
    spec: Mapped[dict[str, Any] | None] = mapped_column(JsonType, deferred=True)
    engine_state: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_by: Mapped[str | None] = mapped_column(String(255))
    trace_event_count: Mapped[int] = mapped_column(Integer, default=0)
    checkpoint_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)
    # The terminal run's GET and list-item JSON (kneo.workflows.documents); NULL while it can change.
    document: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    list_document: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class StepRun(Base):
    """One executable unit of a run: claimed with a lease, completed exactly once."""

    __tablename__ = "step_runs"
    __table_args__ = (
        Index("ix_step_runs_status_available", "status", "available_at"),
        Index("ix_step_runs_run_id_ordinal", "run_id", "ordinal"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str | None] = mapped_column(String(255))
    workflow_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    timeout_seconds: Mapped[int] = mapped_column(Integer)
    input_text: Mapped[str | None] = mapped_column(Text)
    output_text: Mapped[str | None] = mapped_column(Text)
    error: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    unit: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    worker_id: Mapped[str | None] = mapped_column(String(255))
    available_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
