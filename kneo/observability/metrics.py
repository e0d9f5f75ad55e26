"""Prometheus metrics written by every web and worker process.

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn with several workers, Celery prefork), each process
writes its samples to files named after host and pid in that directory and ``/metrics`` sums them,
so counts are right whichever gunicorn worker answers the scrape. The directory must be empty when
the first process of a host starts (the topology script and compose.yaml give it a fresh one).
"""

from __future__ import annotations

import os
import socket

from prometheus_client import Counter, Histogram, values

from kneo.observability import settings as obs


def _process_identifier() -> str:
    # Hostname too: containers sharing one metrics volume can have the same pids.
    return f"{socket.gethostname()}_{os.getpid()}"


if obs.multiproc_dir():
    values.ValueClass = values.MultiProcessValue(process_identifier=_process_identifier)

STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, float("inf"))

HTTP_REQUESTS = Counter("kneo_http_requests", "HTTP requests answered by the web tier.", ("method", "route", "status"))
HTTP_DURATION = Histogram("kneo_http_request_duration_seconds", "Time to answer an HTTP request.", ("method", "route"))
STEP_DURATION = Histogram(
    "kneo_step_duration_seconds", "Time a worker spent executing one step.", ("kind", "outcome"), buckets=STEP_BUCKETS
)
RUNS_FINISHED = Counter("kneo_runs_finished", "Runs that reached a terminal status.", ("status",))
SWEEP_RUNS = Counter("kneo_sweep_runs", "Beat sweep executions.", ("sweep", "result"))
SWEEP_ITEMS = Counter("kneo_sweep_items", "Items (steps, runs, tasks) a sweep acted on.", ("sweep",))


def observe_step(kind: str, succeeded: bool, seconds: float) -> None:
    STEP_DURATION.labels(kind=kind, outcome="ok" if succeeded else "error").observe(seconds)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    HTTP_DURATION.labels(method=method, route=route).observe(seconds)


def run_finished(status: str, count: int = 1) -> None:
    RUNS_FINISHED.labels(status=status).inc(count)


def sweep_finished(sweep: str, succeeded: bool, items: int | None) -> None:
    SWEEP_RUNS.labels(sweep=sweep, result="ok" if succeeded else "error").inc()
    if items:
        SWEEP_ITEMS.labels(sweep=sweep).inc(items)
