"""SQLAlchemy models (no commits, no web or task imports)."""

from kneo.models.base import Base, new_id
from kneo.models.records import (
    AuditChainHead,
    AuditEvent,
    Checkpoint,
    EnvironmentPolicy,
    HumanTask,
    IdempotencyRecord,
    Lock,
    TraceEvent,
)
from kneo.models.run import Run, RunStatus, StepRun, StepStatus

__all__ = [
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "Checkpoint",
    "EnvironmentPolicy",
    "HumanTask",
    "IdempotencyRecord",
    "Lock",
    "Run",
    "RunStatus",
    "StepRun",
    "StepStatus",
    "TraceEvent",
    "new_id",
]
