"""The fast tier's database: one migrated PostgreSQL database per test session, one rolled-back
transaction per test.

Each test runs on a connection whose outer transaction is rolled back at its end. Sessions join
that transaction with ``join_transaction_mode="create_savepoint"`` (SQLAlchemy's recipe for
joining a session into an external transaction), so the code under test commits and rolls back
through ``kneo.db.transaction`` as it does in production, each commit releasing a savepoint.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from kneo import migrate
from kneo.config import Settings, load_settings
from kneo.db import make_engine
from kneo.notify import notifier_for
from kneo.tasks.dispatch import STEP_QUEUE
from kneo.tasks.runtime import WorkerRuntime
from kneo.workflows.steps import PlanCache

FAST_ENV = {
    "KNEO_SERV_BROKER_URL": "memory://",
    "KNEO_SERV_ALLOWED_MODULES": "tests.support",
    "KNEO_SERV_LEASE_GRACE_SECONDS": "2",
}


def fast_settings(database_url: str, **env: str) -> Settings:
    """Settings of a worker on ``database_url`` whose broker is Celery's in-process memory transport."""
    return load_settings({"KNEO_SERV_DATABASE_URL": database_url, **FAST_ENV, **env})


@contextmanager
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url`` after the migrations ran once."""
    # Pre-ping: the suite restarts PostgreSQL in its crash tests, which closes pooled connections.
    engine = make_engine(fast_settings(database_url), pool_size=2, max_overflow=0, pool_pre_ping=True)
    migrate.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Connection]:
    """A connection inside an outer transaction that is rolled back on exit, whatever was committed."""
    with engine.connect() as connection:
        outer = connection.begin()
        try:
            yield connection
        finally:
            outer.rollback()
    with engine.connect() as check:
        left = check.execute(text("SELECT count(*) FROM runs")).scalar_one()
    assert left == 0, f"{left} runs outlived the test's transaction: something committed outside it"


def joined_sessions(connection: Connection) -> sessionmaker[Session]:
    """Sessions that join ``connection``'s transaction: their commits release savepoints."""
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


def worker_runtime(settings: Settings, sessions: sessionmaker[Session]) -> WorkerRuntime:
    """What a worker process holds, with its sessions joined into the test's transaction."""
    return WorkerRuntime(
        settings=settings,
        sessions=sessions,
        notifier=notifier_for(settings.broker_url),
        pid=os.getpid(),
        plans=PlanCache(),
    )


def drain_step_messages() -> list[dict[str, Any]]:
    """Take every step message off the in-process broker: ``{"step_run_id", "timeout", "eta"}`` each."""
    from kneo.tasks.app import celery_app

    if not str(celery_app.conf.broker_url).startswith("memory://"):
        raise RuntimeError(f"the fast tier needs Celery's memory broker, not {celery_app.conf.broker_url}")
    messages = []
    with celery_app.connection_for_write() as connection:
        queue = connection.SimpleQueue(STEP_QUEUE)
        try:
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                (step_run_id, timeout), _kwargs, _embed = message.payload
                messages.append({"step_run_id": step_run_id, "timeout": timeout, "eta": message.headers.get("eta")})
                message.ack()
        finally:
            queue.close()
    return messages
