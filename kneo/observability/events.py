"""Count runs that reach a terminal status, from the ORM, when the transaction commits.

Listening on the Session class covers the web, the workers and the sweeps without a hook in
any use case; a rolled-back transaction counts nothing.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from kneo.models import Run, RunStatus

_PENDING = "kneo_runs_finished"
_installed = False
_lock = threading.Lock()


def _after_flush(session: Session, _context: Any) -> None:
    finished: Counter[str] = session.info.setdefault(_PENDING, Counter())
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Run):
            continue
        history = inspect(obj).attrs.status.history
        if history.added and history.added[-1] in RunStatus.TERMINAL:
            before = history.deleted[-1] if history.deleted else None
            if before not in RunStatus.TERMINAL:
                finished[history.added[-1]] += 1


def _after_commit(session: Session) -> None:
    finished = session.info.pop(_PENDING, None)
    if not finished:
        return
    from kneo.observability import metrics

    for status, count in finished.items():
        metrics.run_finished(status, count)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install_run_events() -> None:
    """Listen once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda session, _previous: _after_rollback(session))
        _installed = True
