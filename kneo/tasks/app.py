"""The Celery application, built on first use by ``create_celery_app``.

Importing this module builds nothing: ``celery_app`` is a lazy proxy that ``celery -A kneo.tasks``
and the dispatch module resolve when they first need the app. Building the app reads
``celeryconfig`` (when Celery first asks for its configuration) and wires the worker and beat
process signals (``kneo.tasks.wiring``).
"""

from __future__ import annotations

import threading
from typing import cast

from celery import Celery
from celery.local import Proxy

_app: Celery | None = None
_lock = threading.Lock()


def create_celery_app() -> Celery:
    """A new Celery app configured from ``celeryconfig``, with the process signals wired."""
    from kneo.tasks.wiring import wire_processes

    app = Celery("kneo")
    app.config_from_object("celeryconfig")
    wire_processes(app)
    return app


def get_celery_app() -> Celery:
    """The process's Celery app, built once on first use."""
    global _app
    with _lock:
        if _app is None:
            _app = create_celery_app()
        return _app


def celery_app_built() -> bool:
    """Whether this process has built its Celery app."""
    return _app is not None


celery_app = cast(Celery, Proxy(get_celery_app))
