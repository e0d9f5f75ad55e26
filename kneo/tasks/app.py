"""The Celery application; configuration comes from ``celeryconfig``."""

from __future__ import annotations

from celery import Celery

from kneo.agents.lifecycle import connect_worker_signals
from kneo.observability.celery import install_celery

celery_app = Celery("kneo")
celery_app.config_from_object("celeryconfig")
install_celery(celery_app)
connect_worker_signals()
