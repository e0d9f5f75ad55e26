"""Per-process worker resources: settings, engine and session factory (rebuilt after fork)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from kneo.config import Settings, load_settings
from kneo.db import make_engine, make_session_factory
from kneo.notify import LocalNotifier, notifier_for
from kneo.workflows.steps import PlanCache


@dataclass
class WorkerRuntime:
    """What a task needs: settings, a session factory and the notifier."""

    settings: Settings
    sessions: sessionmaker[Session]
    notifier: LocalNotifier
    pid: int
    plans: PlanCache


_runtime: WorkerRuntime | None = None
_override: Settings | None = None
_lock = threading.Lock()


def configure(settings: Settings) -> None:
    """Use ``settings`` instead of the environment (embedded server, tests)."""
    global _override, _runtime
    with _lock:
        _override = settings
        _runtime = None


def get_runtime() -> WorkerRuntime:
    """The runtime of the current process, created lazily and never shared across fork."""
    global _runtime
    with _lock:
        if _runtime is None or _runtime.pid != os.getpid():
            settings = _override or load_settings()
            # Workers drop pre-ping: a broken connection fails the task and the lease recovers it.
            pool = {"pool_size": 2, "max_overflow": 4, "pool_pre_ping": False} if settings.database_url else {}
            engine = make_engine(settings, **pool)
            _runtime = WorkerRuntime(
                settings=settings,
                sessions=make_session_factory(engine),
                notifier=notifier_for(settings.broker_url),
                pid=os.getpid(),
                plans=PlanCache(),
            )
        return _runtime
