"""Celery tasks: thin shells around the workflow use cases.

``celery -A kneo.tasks worker`` finds ``celery_app`` here.
"""

from kneo.tasks.app import celery_app

app = celery_app

__all__ = ["app", "celery_app"]
