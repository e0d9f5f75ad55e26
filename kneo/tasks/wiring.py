"""Process wiring of the worker and beat, done once when the Celery app is built.

Connects the Celery signals: the redacting log filter on every handler Celery sets up, a lease
owner id of its own for each prefork child, the agent runtimes' resources closed at shutdown,
and the observability handlers (tracing, sweep metrics).
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from celery import Celery, signals

from kneo.agents.lifecycle import close_agent_resources, install_log_filter
from kneo.observability.celery import install_celery

_wired = False
_lock = threading.Lock()


def _on_logger(logger: logging.Logger | None = None, **_: Any) -> None:
    install_log_filter(logger)


def _on_start(**_: Any) -> None:
    install_log_filter()


def _on_child_start(**_: Any) -> None:
    from kneo.tasks import steps

    steps.new_worker_id()
    install_log_filter()


def _on_shutdown(**_: Any) -> None:
    close_agent_resources()


def _worker_engine() -> Any:
    from kneo.tasks.runtime import get_runtime

    return get_runtime().sessions.kw["bind"]


def wire_processes(app: Celery) -> None:
    """Connect the worker and beat signal handlers (once per process)."""
    global _wired
    with _lock:
        if _wired:
            return
        install_celery(app, _worker_engine)
        signals.after_setup_logger.connect(_on_logger, weak=False)
        signals.after_setup_task_logger.connect(_on_logger, weak=False)
        signals.worker_init.connect(_on_start, weak=False)  # also when a setup_logging receiver took over
        signals.worker_process_init.connect(_on_child_start, weak=False)
        signals.worker_process_shutdown.connect(_on_shutdown, weak=False)
        signals.worker_shutdown.connect(_on_shutdown, weak=False)
        atexit.register(close_agent_resources)
        _wired = True
