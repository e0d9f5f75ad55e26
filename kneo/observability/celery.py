"""Celery-side observability: tracing in worker and beat processes, sweep metrics.

``install_celery(celery_app, engine_of)`` (called where the Celery app is built) only connects signal
handlers; they configure tracing in each worker process after fork, when enabled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import signals

from kneo.observability import tracing
from kneo.observability.events import install_run_events

SWEEP_PREFIX = "kneo.sweep."
_connected = False
_engine_of: Callable[[], Any] | None = None


def _setup_worker_process(**_: Any) -> None:
    install_run_events()
    if tracing.configure_tracing("worker"):
        tracing.instrument_celery()
        if _engine_of is not None:
            tracing.instrument_engine(_engine_of())


def _worker_init(sender: Any = None, **kwargs: Any) -> None:
    # Prefork children configure themselves (worker_process_init); other pools run tasks here.
    pool = getattr(getattr(sender, "pool_cls", None), "__module__", "") or ""
    if "prefork" not in pool:
        _setup_worker_process()


def _beat_init(**_: Any) -> None:
    if tracing.configure_tracing("beat"):
        tracing.instrument_celery()


def _task_postrun(task: Any = None, retval: Any = None, state: str | None = None, **_: Any) -> None:
    name = getattr(task, "name", "") or ""
    if not name.startswith(SWEEP_PREFIX):
        return
    from kneo.observability import metrics

    items: int | None = None
    if isinstance(retval, int) and not isinstance(retval, bool):
        items = retval
    elif isinstance(retval, dict):  # sweeps that report counts per outcome
        items = sum(v for v in retval.values() if isinstance(v, int) and not isinstance(v, bool))
    metrics.sweep_finished(name[len(SWEEP_PREFIX) :], state == "SUCCESS", items)


def install_celery(celery_app: Any, engine_of: Callable[[], Any]) -> None:
    """Connect the handlers once (``celery_app`` is accepted for symmetry with Flask's init_app);
    ``engine_of`` gives the worker process's database engine to instrument."""
    global _connected, _engine_of
    if _connected:
        return
    _engine_of = engine_of
    signals.worker_process_init.connect(_setup_worker_process, weak=False)
    signals.worker_init.connect(_worker_init, weak=False)
    signals.beat_init.connect(_beat_init, weak=False)
    signals.task_postrun.connect(_task_postrun, weak=False)
    _connected = True
