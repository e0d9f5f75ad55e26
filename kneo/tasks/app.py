"""The Celery application; configuration comes from ``celeryconfig``."""

from __future__ import annotations

from celery import Celery

celery_app = Celery("kneo")
celery_app.config_from_object("celeryconfig")
