"""``GET /metrics``: the multiprocess samples plus gauges read from the database at scrape time."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kneo.auth.keys import authenticate
from kneo.config import Settings
from kneo.models import HumanTask, Run, RunStatus, StepRun, StepStatus
from kneo.observability import settings as obs

RUN_STATUSES = (RunStatus.RUNNING, RunStatus.BLOCKED, *sorted(RunStatus.TERMINAL))
OPEN_STEP_STATUSES = (StepStatus.QUEUED, StepStatus.RETRYING, StepStatus.RUNNING)


class DatabaseCollector:
    """Runs by status, open human tasks and the queue depth (open step rows), counted in SQL."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            runs = dict(session.execute(select(Run.status, func.count()).group_by(Run.status)).all())
            steps = dict(
                session.execute(
                    select(StepRun.status, func.count())
                    .where(StepRun.status.in_(OPEN_STEP_STATUSES))
                    .group_by(StepRun.status)
                ).all()
            )
            human = session.execute(select(func.count()).where(HumanTask.status == "pending")).scalar_one()
        by_status = GaugeMetricFamily("kneo_runs", "Runs by status (from the database).", labels=["status"])
        for status in sorted(set(RUN_STATUSES) | set(runs)):
            by_status.add_metric([status], int(runs.get(status, 0)))
        yield by_status
        open_steps = GaugeMetricFamily("kneo_step_runs_open", "Open step rows by status.", labels=["status"])
        for status in OPEN_STEP_STATUSES:
            open_steps.add_metric([status], int(steps.get(status, 0)))
        yield open_steps
        yield GaugeMetricFamily(
            "kneo_queue_depth", "Open step rows (queued, retrying or running).", value=sum(steps.values())
        )
        yield GaugeMetricFamily("kneo_human_tasks_open", "Human tasks waiting for a decision.", value=int(human))


def render_metrics(sessions: sessionmaker[Session]) -> bytes:
    """The exposition text: process metrics (summed over processes when multiprocess) + database gauges."""
    registry: Any
    if obs.multiproc_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    database = CollectorRegistry()
    database.register(DatabaseCollector(sessions))
    return generate_latest(registry) + generate_latest(database)


def scrape_allowed(settings: Settings, presented: str) -> bool:
    """``KNEO_SERV_METRICS_TOKEN`` or, whenever auth is on, any valid API key; open only when neither applies."""
    token = obs.metrics_token()
    if token is not None and hmac.compare_digest(presented.encode(), token.encode()):
        return True
    if settings.auth_enabled:
        return authenticate(settings.api_keys, presented) is not None
    return token is None


def register_metrics_route(app: Flask, presented_key: Callable[[], str]) -> None:
    """Serve ``/metrics``: it needs the metrics token or an API key whenever either is configured."""
    if not obs.metrics_enabled():
        return

    def metrics_view() -> Response:
        if not scrape_allowed(current_app.extensions["kneo.settings"], presented_key()):
            return Response("metrics token or API key required\n", status=401, headers={"WWW-Authenticate": "Bearer"})
        body = render_metrics(current_app.extensions["kneo.read_sessions"])
        return Response(body, content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "kneo_metrics", metrics_view, methods=["GET"])
