"""The embedded platform: web, Celery worker and beat in one process on SQLite, no servers.

The worker and beat are the same Celery code as in production, on kombu's in-memory
transport. Messages do not survive a restart, the database does: at startup every queued
step is re-dispatched and every step the previous process was running is recovered.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import update

from kneo.config import Settings
from kneo.db import transaction
from kneo.models import StepRun, StepStatus
from kneo.tasks import runtime

log = logging.getLogger(__name__)


def recover_previous_process(settings: Settings) -> int:
    """Release the leases of the previous process and re-dispatch every open step."""
    from kneo.tasks.sweeps import run_reconcile

    rt = runtime.get_runtime()
    with rt.sessions() as session, transaction(session):
        session.execute(
            update(StepRun)
            .where(StepRun.status == StepStatus.RUNNING)
            .values(status=StepStatus.RETRYING, lease_expires_at=None, worker_id=None)
        )
        session.execute(update(StepRun).where(StepRun.status.in_(StepStatus.CLAIMABLE)).values(dispatched_at=None))
    return run_reconcile()


def start_worker(settings: Settings, concurrency: int = 4) -> Any:
    """Start a Celery worker (thread pool) and the beat scheduler inside this process."""
    from celery.beat import EmbeddedService

    from kneo.tasks.app import celery_app

    celery_app.conf.update(broker_url=settings.broker_url, broker_transport_options={"polling_interval": 0.01})
    runtime.configure(settings)
    import kneo.tasks.steps
    import kneo.tasks.sweeps  # noqa: F401 - registers the tasks

    worker = celery_app.WorkController(
        pool_cls="threads",
        concurrency=concurrency,
        queues=["kneo.steps", "kneo.sweeps"],
        loglevel="WARNING",
        hostname="kneo-embedded@localhost",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    threading.Thread(target=worker.start, name="kneo-worker", daemon=True).start()
    schedule = Path(settings.sqlite_path).parent / "celerybeat-schedule"
    beat = EmbeddedService(celery_app, thread=True, schedule_filename=str(schedule))
    beat.start()
    return worker, beat


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the whole platform in this process until interrupted."""
    from werkzeug.serving import make_server

    from kneo.web import create_app

    app = create_app(settings)
    worker, beat = start_worker(settings)
    recovered = recover_previous_process(settings)
    log.warning("kneo embedded platform on http://%s:%s (%s steps recovered)", host, port, recovered)
    server = make_server(host, port, app, threaded=True)
    try:
        server.serve_forever()
    finally:
        beat.stop()
        worker.stop(in_sighandler=False)
