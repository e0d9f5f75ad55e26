"""The one place that sends step messages; called only after the transaction committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kneo.correlation import REQUEST_ID, REQUEST_ID_HEADER
from kneo.observability.spans import dispatch_span
from kneo.workflows.transitions import Dispatch, Transition

log = logging.getLogger(__name__)

STEP_TASK = "kneo.step.execute"
STEP_QUEUE = "kneo.steps"
HARD_LIMIT_GRACE_SECONDS = 10


def send_steps(dispatches: Iterable[Dispatch], run_ids: dict[str, str] | None = None) -> int:
    """Send one message per dispatch; a failure is logged and left to the reconcile sweep."""
    from kneo.tasks.app import celery_app

    request_id = REQUEST_ID.get()
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    sent = 0
    for dispatch in dispatches:
        try:
            with dispatch_span((run_ids or {}).get(dispatch.step_run_id), dispatch.step_run_id):
                celery_app.send_task(
                    STEP_TASK,
                    args=[dispatch.step_run_id, dispatch.timeout_seconds],
                    queue=STEP_QUEUE,
                    countdown=dispatch.countdown or None,
                    soft_time_limit=dispatch.timeout_seconds,
                    time_limit=dispatch.timeout_seconds + HARD_LIMIT_GRACE_SECONDS,
                    retry=True,
                    retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
                    headers=headers,
                )
            sent += 1
        except Exception:
            log.warning("dispatch of step %s failed; reconcile will resend", dispatch.step_run_id, exc_info=True)
    return sent


def ping_broker(timeout: float = 2.0) -> None:
    """Connect to the broker once; raises when it cannot be reached."""
    from kneo.tasks.app import celery_app

    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout)


def after_commit(transition: Transition, notify: object | None = None) -> None:
    """Dispatch the committed transition's steps and announce a settled run."""
    send_steps(transition.dispatches, {row.id: row.run_id for row in transition.new_steps})
    if transition.settled_run_id and notify is not None:
        notify.publish(transition.settled_run_id)  # type: ignore[attr-defined]
