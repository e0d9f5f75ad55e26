"""A queued step's message is re-sent with a doubling backoff: soon when it may be lost, rarely
when the queue is merely long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kneo.models import StepRun
from kneo.workflows.sweeps.reconcile import REDISPATCH_BACKOFF_CAP_SECONDS, redispatch_due

STALE = 5.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def queued(available_after: float, dispatched_after: float | None) -> StepRun:
    dispatched = None if dispatched_after is None else T0 + timedelta(seconds=dispatched_after)
    return StepRun(available_at=T0 + timedelta(seconds=available_after), dispatched_at=dispatched)


def due_at(row: StepRun, seconds: float) -> bool:
    return redispatch_due(row, T0 + timedelta(seconds=seconds), STALE)


def test_a_step_never_dispatched_is_due() -> None:
    assert due_at(queued(0, None), 0)


def test_a_first_message_is_resent_after_the_stale_interval() -> None:
    row = queued(0, 0)
    assert not due_at(row, STALE - 0.1)
    assert due_at(row, STALE)


def test_each_resend_waits_as_long_as_the_step_had_waited() -> None:
    row = queued(0, 20)  # waited 20 s before its last dispatch
    assert not due_at(row, 20 + 19)
    assert due_at(row, 20 + 20)


def test_the_backoff_is_capped() -> None:
    row = queued(0, 1000)
    assert not due_at(row, 1000 + REDISPATCH_BACKOFF_CAP_SECONDS - 1)
    assert due_at(row, 1000 + REDISPATCH_BACKOFF_CAP_SECONDS)


def test_a_retry_scheduled_in_the_future_uses_the_stale_interval() -> None:
    row = queued(30, 0)  # dispatched with a countdown: available later than dispatched
    assert not due_at(row, STALE - 1)
    assert due_at(row, STALE)


def test_a_backlog_sends_a_few_messages_per_step_not_one_per_sweep() -> None:
    row = queued(0, 0)
    sends = 0
    for second in range(0, 120, 5):  # a step stuck 2 minutes behind a long queue, swept every 5 s
        now = T0 + timedelta(seconds=second)
        if redispatch_due(row, now, STALE):
            row.dispatched_at = now
            sends += 1
    assert 3 <= sends <= 6
