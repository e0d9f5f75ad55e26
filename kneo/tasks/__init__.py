"""Celery tasks: thin shells around the workflow use cases.

``celery -A kneo.tasks worker`` finds ``app`` here: a lazy proxy of the Celery app, built on first
use (``kneo.tasks.app.create_celery_app``); importing this package builds nothing.
"""

from kneo.tasks.app import celery_app

app = celery_app

__all__ = ["app", "celery_app"]
