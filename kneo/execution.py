"""What a worker executes and what it reports back: the claim of a step and the step's outcome.

Plain data shared by the workflows use cases (which claim and record) and the agent runtimes
(which execute); it imports nothing of either, so the agents sit below the workflows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kneo.models import StepRun


@dataclass(frozen=True)
class ClaimedStep:
    """A step this worker now owns until ``lease_expires_at``."""

    step_run_id: str
    run_id: str
    attempt: int
    max_attempts: int
    step_id: str
    kind: str
    ref: str | None
    input_text: str
    timeout_seconds: int
    plan: dict[str, Any]
    unit: dict[str, Any]

    @classmethod
    def of(cls, row: StepRun, plan: dict[str, Any]) -> ClaimedStep:
        """The claim of ``row`` (as updated by the claim) with its run's plan."""
        return cls(
            step_run_id=row.id,
            run_id=row.run_id,
            attempt=row.attempt,
            max_attempts=row.max_attempts,
            step_id=row.step_id,
            kind=row.kind,
            ref=row.ref,
            input_text=row.input_text or "",
            timeout_seconds=row.timeout_seconds,
            plan=plan,
            unit=dict(row.unit or {}),
        )


@dataclass
class StepOutcome:
    """What executing a step produced (success when ``error`` is None)."""

    output_text: str | None = None
    error: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
