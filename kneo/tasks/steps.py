"""The step task: claim, execute outside any transaction, complete."""

from __future__ import annotations

import os
import socket
import time
import uuid

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from kneo.agents.executor import execute_unit, runs_inline
from kneo.agents.outcome import secure_outcome
from kneo.correlation import REQUEST_ID, REQUEST_ID_HEADER
from kneo.db import transaction, utcnow
from kneo.execution import ClaimedStep, StepOutcome
from kneo.observability.spans import lease_span, observe_step
from kneo.tasks.dispatch import STEP_TASK, after_commit
from kneo.tasks.runtime import WorkerRuntime, get_runtime
from kneo.tasks.time_limit import call_with_time_limit
from kneo.tasks.worker_log import log_step
from kneo.workflows.steps import claim_inline, claim_step, complete_step, run_is_active

WORKER_ID = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


def new_worker_id() -> None:
    """Prefork children get their own lease owner id (the module is imported before the fork;
    ``kneo.tasks.wiring`` calls this in each child)."""
    global WORKER_ID
    WORKER_ID = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@shared_task(name=STEP_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_step(self: Task, step_run_id: str, timeout_seconds: int | None = None) -> None:
    """Execute one step run; stale or duplicated messages are dropped by the claim."""
    token = REQUEST_ID.set(self.request.get(REQUEST_ID_HEADER))
    try:
        _run_step(step_run_id, timeout_seconds)
    finally:
        REQUEST_ID.reset(token)


def _run_step(step_run_id: str, timeout_seconds: int | None) -> None:
    runtime = get_runtime()
    settings = runtime.settings
    with runtime.sessions() as session:
        with lease_span(WORKER_ID, timeout_seconds, settings) as lease, transaction(session):
            claimed = claim_step(
                session, step_run_id, WORKER_ID, utcnow(), settings.lease_grace_seconds, runtime.plans, timeout_seconds
            )
            lease.record(claimed)
        while claimed is not None:
            started = time.perf_counter()
            outcome = _execute(claimed, runtime)
            log_step(
                settings.log_level,
                run_id=claimed.run_id,
                step_id=claimed.step_id,
                step_run_id=claimed.step_run_id,
                attempt=claimed.attempt,
                worker_id=WORKER_ID,
                status="failed" if outcome.error else "completed",
                error_type=(outcome.error or {}).get("type"),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            with transaction(session):
                now = utcnow()
                transition = complete_step(session, claimed, outcome, now, settings.step_timeout_seconds)
                claimed = claim_inline(
                    session, transition, claimed.plan, WORKER_ID, now, settings.lease_grace_seconds, runs_inline
                )
            after_commit(transition, runtime.notifier)


@observe_step
def _execute(claimed: ClaimedStep, runtime: WorkerRuntime) -> StepOutcome:
    def should_stop() -> bool:
        with runtime.sessions() as check:
            return not run_is_active(check, claimed.run_id)

    try:
        outcome = call_with_time_limit(
            lambda: execute_unit(claimed, runtime.settings.allowed_modules, should_stop), claimed.timeout_seconds
        )
    except SoftTimeLimitExceeded:
        outcome = StepOutcome(error={})
    if outcome.error is not None and outcome.error.get("type") in (None, "SoftTimeLimitExceeded"):
        outcome.error = {
            "message": f"Operation timed out after {claimed.timeout_seconds} seconds.",
            "type": "StepTimeout",
        }
    return secure_outcome(outcome)
