"""Sweep tasks scheduled by beat; each is also a flask admin command (``flask sweeps <name>``).

The shells only open transactions (one per row, or one per batch) around the use cases in
``kneo.workflows`` and send what a committed transition asks for; every sweep logs one line
with its counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from celery import shared_task
from sqlalchemy.orm import Session

from kneo.db import transaction, utcnow
from kneo.tasks.dispatch import after_commit
from kneo.tasks.runtime import get_runtime
from kneo.workflows.sweeps.common import BATCH, Outcome
from kneo.workflows.sweeps.deadlines import due_runs, time_out_run
from kneo.workflows.sweeps.expiry import due_human_tasks, expire_human_task
from kneo.workflows.sweeps.reconcile import reconcile as reconcile_pass
from kneo.workflows.sweeps.retention import PRUNERS, cutoffs

log = logging.getLogger(__name__)

RECONCILE_TASK = "kneo.sweep.reconcile"
HUMAN_EXPIRY_TASK = "kneo.sweep.human_expiry"
DEADLINES_TASK = "kneo.sweep.deadlines"
RETENTION_TASK = "kneo.sweep.retention"
MAX_RETENTION_BATCHES = 10_000


def _sweep_log() -> logging.Logger:
    """The sweep logger at ``KNEO_SERV_LOG_LEVEL``, visible even where nothing configured logging
    (a Celery worker that does not hijack the root logger)."""
    log.setLevel(get_runtime().settings.log_level)
    if not log.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        log.addHandler(handler)
    return log


def _log_counts(sweep: str, counts: dict[str, int]) -> dict[str, int]:
    """One line per pass: INFO when the sweep changed something, DEBUG when it found nothing."""
    level = logging.INFO if any(counts.values()) else logging.DEBUG
    summary = " ".join(f"{name}={value}" for name, value in sorted(counts.items())) or "nothing"
    _sweep_log().log(level, "sweep %s: %s", sweep, summary, extra={"sweep": sweep, "counts": counts})
    return counts


@shared_task(name=RECONCILE_TASK, ignore_result=True, acks_late=False)
def reconcile() -> int:
    """Re-dispatch lost step messages and steps whose worker died; returns the count."""
    return run_reconcile()


@shared_task(name=HUMAN_EXPIRY_TASK, ignore_result=True, acks_late=False)
def human_expiry() -> dict[str, int]:
    """Apply ``on_timeout`` to human tasks past ``expires_at``."""
    return run_human_expiry()


@shared_task(name=DEADLINES_TASK, ignore_result=True, acks_late=False)
def deadlines() -> dict[str, int]:
    """Time out runs past ``deadline_at``."""
    return run_deadlines()


@shared_task(name=RETENTION_TASK, ignore_result=True, acks_late=False)
def retention() -> dict[str, int]:
    """Delete finished and old records by the retention windows."""
    return run_retention()


def run_reconcile() -> int:
    """The reconcile sweep body (shared with ``flask sweeps reconcile``)."""
    runtime = get_runtime()
    settings = runtime.settings
    with runtime.sessions() as session, transaction(session):
        transition, exhausted = reconcile_pass(
            session, utcnow(), settings.reconcile_stale_seconds, settings.step_timeout_seconds
        )
    after_commit(transition, runtime.notifier)
    _log_counts("reconcile", {"dispatched": len(transition.dispatches), "exhausted": exhausted})
    return len(transition.dispatches)


def _each(
    sweep: str,
    due: Callable[[Session, datetime], Iterable[str]],
    handle: Callable[[Session, str, datetime], Outcome | None],
) -> dict[str, int]:
    """List the due ids, then handle each in its own transaction; dispatch and notify after commit."""
    runtime = get_runtime()
    with runtime.sessions() as session, transaction(session):
        ids = list(due(session, utcnow()))
    counts: Counter[str] = Counter()
    for item in ids:
        try:
            with runtime.sessions() as session, transaction(session):
                outcome = handle(session, item, utcnow())
        except Exception:
            log.exception("sweep %s failed on %s; the next pass retries it", sweep, item)
            counts["errors"] += 1
            continue
        if outcome is None:
            counts["skipped"] += 1
            continue
        counts[outcome.action] += 1
        after_commit(outcome.transition, runtime.notifier)
    return _log_counts(sweep, dict(counts))


def run_human_expiry(limit: int = BATCH) -> dict[str, int]:
    """The human-task expiry sweep body (shared with ``flask sweeps human-expiry``)."""
    default_timeout = get_runtime().settings.step_timeout_seconds
    return _each(
        "human_expiry",
        lambda session, now: due_human_tasks(session, now, limit),
        lambda session, task_id, now: expire_human_task(session, task_id, now, default_timeout),
    )


def run_deadlines(limit: int = BATCH) -> dict[str, int]:
    """The run-deadline sweep body (shared with ``flask sweeps deadlines``)."""
    return _each("deadlines", lambda session, now: due_runs(session, now, limit), time_out_run)


def run_retention(batch_size: int = BATCH) -> dict[str, int]:
    """The retention sweep body: each category in batches of ``batch_size``, one transaction each."""
    runtime = get_runtime()
    settings = runtime.settings
    limits = cutoffs(utcnow(), settings.retention, settings.idempotency_ttl_seconds)
    totals: Counter[str] = Counter({name: 0 for name in limits})
    for name, cutoff in limits.items():
        for _ in range(MAX_RETENTION_BATCHES):
            with runtime.sessions() as session, transaction(session):
                counts = PRUNERS[name](session, cutoff, batch_size)
            totals.update(counts)
            totals["batches"] += 1
            if counts.get(name, 0) < batch_size:
                break
    return _log_counts("retention", dict(totals))
