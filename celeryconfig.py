"""Celery configuration, built from kneo.config (the single settings source).

The settings-derived values (``broker_url``, ``beat_schedule``) are read from the environment when
Celery asks for them, not when this module is imported.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from kombu import Exchange, Queue

from kneo.config import Settings, load_settings

result_backend = None
task_ignore_result = True
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
timezone = "UTC"
enable_utc = True

imports = ("kneo.tasks.steps", "kneo.tasks.sweeps")
task_queues = (
    Queue("kneo.steps", Exchange("kneo.steps"), routing_key="kneo.steps"),
    Queue("kneo.sweeps", Exchange("kneo.sweeps"), routing_key="kneo.sweeps"),
)
task_default_queue = "kneo.steps"
task_create_missing_queues = False
task_routes = {"kneo.step.*": {"queue": "kneo.steps"}, "kneo.sweep.*": {"queue": "kneo.sweeps"}}

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
worker_hijack_root_logger = False
worker_redirect_stdouts = False
worker_send_task_events = True
task_send_sent_event = False
broker_connection_retry_on_startup = True
broker_transport_options = {"visibility_timeout": 7200}
task_time_limit = 3600
task_soft_time_limit = 3540


def _every(task: str, seconds: float) -> dict[str, object]:
    """A beat entry on the sweeps queue; a message older than two periods is dropped unrun."""
    return {"task": task, "schedule": seconds, "options": {"queue": "kneo.sweeps", "expires": seconds * 2}}


@cache
def _settings() -> Settings:
    return load_settings()


def _beat_schedule() -> dict[str, dict[str, object]]:
    settings = _settings()
    return {
        "kneo-reconcile": _every("kneo.sweep.reconcile", settings.reconcile_interval_seconds),
        "kneo-human-expiry": _every("kneo.sweep.human_expiry", settings.human_sweep_interval_seconds),
        "kneo-deadlines": _every("kneo.sweep.deadlines", settings.deadline_sweep_interval_seconds),
        "kneo-retention": _every("kneo.sweep.retention", settings.retention_sweep_interval_seconds),
    }


SETTING_TYPES = (str, bool, int, float, tuple, list, dict, type(None))
_FROM_SETTINGS = {"broker_url": lambda: _settings().broker_url, "beat_schedule": _beat_schedule}


def __getattr__(name: str) -> Any:
    """The settings-derived values, computed on first request."""
    if name in _FROM_SETTINGS:
        return _FROM_SETTINGS[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The configuration's names as Celery lists them, the lazy ones among them."""
    settings = [n for n, v in globals().items() if n.islower() and n[0] != "_" and isinstance(v, SETTING_TYPES)]
    return sorted([*settings, *_FROM_SETTINGS])
