"""Sweep tasks scheduled by beat; each is also a flask admin command."""

from __future__ import annotations

from kneo.db import transaction, utcnow
from kneo.tasks.app import celery_app
from kneo.tasks.dispatch import after_commit
from kneo.tasks.runtime import get_runtime
from kneo.workflows.sweeps import reconcile_steps
from kneo.workflows.transitions import Transition

RECONCILE_TASK = "kneo.sweep.reconcile"
LOST_ATTEMPT_ALLOWANCE = 3


@celery_app.task(name=RECONCILE_TASK, ignore_result=True, acks_late=False)
def reconcile() -> int:
    """Re-dispatch lost step messages and steps whose worker died; returns the count."""
    return run_reconcile()


def run_reconcile() -> int:
    """The reconcile sweep body (shared with ``flask sweeps reconcile``)."""
    from kneo.models import Run
    from kneo.workflows.steps import ClaimedStep, StepOutcome, complete_step

    runtime = get_runtime()
    settings = runtime.settings
    transition = Transition()
    with runtime.sessions() as session, transaction(session):
        now = utcnow()
        dispatches, exhausted = reconcile_steps(session, now, settings.reconcile_stale_seconds, LOST_ATTEMPT_ALLOWANCE)
        transition.dispatches.extend(dispatches)
        for row in exhausted:
            plan = session.get(Run, row.run_id).plan  # type: ignore[union-attr]
            claimed = ClaimedStep(
                row.id,
                row.run_id,
                row.attempt,
                row.max_attempts,
                row.step_id,
                row.kind,
                row.ref,
                row.input_text or "",
                row.timeout_seconds,
                plan,
                dict(row.unit or {}),
            )
            lost = StepOutcome(error={"message": "The worker executing this step was lost.", "type": "worker_lost"})
            transition.merge(complete_step(session, claimed, lost, now, settings.step_timeout_seconds))
    after_commit(transition, runtime.notifier)
    return len(transition.dispatches)
