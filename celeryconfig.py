"""Celery configuration, built from kneo.config (the single settings source)."""

from __future__ import annotations

from kombu import Exchange, Queue

from kneo.config import load_settings

_settings = load_settings()

broker_url = _settings.broker_url
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


beat_schedule = {
    "kneo-reconcile": _every("kneo.sweep.reconcile", _settings.reconcile_interval_seconds),
    "kneo-human-expiry": _every("kneo.sweep.human_expiry", _settings.human_sweep_interval_seconds),
    "kneo-deadlines": _every("kneo.sweep.deadlines", _settings.deadline_sweep_interval_seconds),
    "kneo-retention": _every("kneo.sweep.retention", _settings.retention_sweep_interval_seconds),
}
