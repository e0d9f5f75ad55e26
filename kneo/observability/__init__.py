"""Observability: OpenTelemetry tracing, platform spans and Prometheus metrics.

Importing this package imports nothing else (the workflow layer imports ``spans``); it imports
neither the web nor the tasks: they hand it what it needs. The hooks
into the rest of the code base are one line each:

- ``kneo/web/__init__.py``: ``observability.web.init_app(app, settings, engine, presented_key)``
  (Flask and SQLAlchemy instrumentation, HTTP metrics, ``/metrics``, the run-finished counter);
- ``kneo/tasks/wiring.py``: ``observability.celery.install_celery(celery_app, engine_of)`` (worker
  and beat tracing, sweep metrics);
- ``kneo/tasks/dispatch.py``: ``dispatch_span`` around each step message;
- ``kneo/tasks/steps.py``: ``lease_span`` around the claim, ``@observe_step`` on step execution;
- ``kneo/workflows/human.py``: ``@continuation_lock_span`` on the human-task lock.
"""
