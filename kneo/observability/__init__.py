"""Observability: OpenTelemetry tracing, platform spans and Prometheus metrics.

Importing this package imports nothing else (the workflow layer imports ``spans``). The hooks
into the rest of the code base are one line each:

- ``kneo/web/__init__.py``: ``observability.web.init_app(app, settings, engine)`` (Flask and
  SQLAlchemy instrumentation, HTTP metrics, ``/metrics``, the run-finished counter);
- ``kneo/tasks/app.py``: ``observability.celery.install_celery(celery_app)`` (worker and beat
  tracing, sweep metrics);
- ``kneo/tasks/dispatch.py``: ``dispatch_span`` around each step message;
- ``kneo/tasks/steps.py``: ``lease_span`` around the claim, ``@observe_step`` on step execution;
- ``kneo/workflows/human.py``: ``@continuation_lock_span`` on the human-task lock.
"""
