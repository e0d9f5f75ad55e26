"""Web-tier observability: tracing, HTTP metrics and ``/metrics``; ``init_app`` is the one hook."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request

from kneo.observability import tracing
from kneo.observability.endpoint import register_metrics_route
from kneo.observability.events import install_run_events


def init_app(app: Flask, settings: Any, engine: Any, presented_key: Callable[[], str]) -> None:
    """Install tracing (when enabled), request metrics, the run counters and ``/metrics`` (which
    reads the request's key with ``presented_key``)."""
    if tracing.configure_tracing("web"):
        tracing.instrument_flask(app)
        tracing.instrument_engine(engine)
        tracing.instrument_celery()
    install_run_events()
    _install_request_metrics(app)
    register_metrics_route(app, presented_key)


def _install_request_metrics(app: Flask) -> None:
    from kneo.observability import metrics

    @app.before_request
    def _metrics_start() -> None:
        g.kneo_metrics_started = time.perf_counter()

    @app.after_request
    def _metrics_finish(response: Response) -> Response:
        started = g.get("kneo_metrics_started")
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            metrics.observe_request(request.method, rule, response.status_code, time.perf_counter() - started)
        return response
