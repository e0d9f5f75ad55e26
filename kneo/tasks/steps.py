"""The step task: claim, execute outside any transaction, complete."""

from __future__ import annotations

import socket
import uuid

from celery.exceptions import SoftTimeLimitExceeded

from kneo.agents.executor import execute_unit, runs_inline
from kneo.db import transaction, utcnow
from kneo.tasks.app import celery_app
from kneo.tasks.dispatch import STEP_TASK, after_commit
from kneo.tasks.runtime import WorkerRuntime, get_runtime
from kneo.workflows.steps import (
    ClaimedStep,
    StepOutcome,
    claim_inline,
    claim_step,
    complete_step,
    run_is_active,
)

WORKER_ID = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


@celery_app.task(name=STEP_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_step(step_run_id: str, timeout_seconds: int | None = None) -> None:
    """Execute one step run; stale or duplicated messages are dropped by the claim."""
    runtime = get_runtime()
    settings = runtime.settings
    with runtime.sessions() as session:
        with transaction(session):
            claimed = claim_step(
                session, step_run_id, WORKER_ID, utcnow(), settings.lease_grace_seconds, runtime.plans, timeout_seconds
            )
        while claimed is not None:
            outcome = _execute(claimed, runtime)
            with transaction(session):
                now = utcnow()
                transition = complete_step(session, claimed, outcome, now, settings.step_timeout_seconds)
                claimed = claim_inline(
                    session, transition, claimed.plan, WORKER_ID, now, settings.lease_grace_seconds, runs_inline
                )
            after_commit(transition, runtime.notifier)


def _execute(claimed: ClaimedStep, runtime: WorkerRuntime) -> StepOutcome:
    def should_stop() -> bool:
        with runtime.sessions() as check:
            return not run_is_active(check, claimed.run_id)

    try:
        outcome = execute_unit(claimed, runtime.settings.allowed_modules, should_stop)
    except SoftTimeLimitExceeded:
        outcome = StepOutcome(error={})
    if outcome.error is not None and outcome.error.get("type") in (None, "SoftTimeLimitExceeded"):
        outcome.error = {
            "message": f"Operation timed out after {claimed.timeout_seconds} seconds.",
            "type": "StepTimeout",
        }
    return outcome
