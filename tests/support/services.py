"""Real services for the tests: PostgreSQL databases, Redis, and the process topology."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from topology import Topology, free_port, start_private_redis  # noqa: E402

PG_ADMIN_URL = os.environ.get("KNEO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KNEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
KEYS = {
    "admin": "admin-token",
    "operator": "op-token",
    "reviewer": "rev-token",
    "viewer": "view-token",
    "service": "svc-token",
}
API_KEYS_ENV = "operator:op-token:operator;reviewer:rev-token:reviewer;viewer:view-token:viewer;svc:svc-token:service"


class ServiceMissing(RuntimeError):
    """A service the tests need is not running."""


def check_services() -> None:
    """Fail loudly when PostgreSQL or Redis is missing (never skip)."""
    try:
        psycopg2.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        raise ServiceMissing(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}") from exc
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise ServiceMissing(f"Redis is not reachable at {REDIS_URL}: {exc}") from exc


def create_database() -> str:
    """A fresh, empty PostgreSQL database; returns its URL."""
    name = f"kneo_test_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(PG_ADMIN_URL)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    for _ in range(20):
        try:
            conn = psycopg2.connect(PG_ADMIN_URL)
            conn.autocommit = True
            conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.close()
            return
        except psycopg2.OperationalError:
            time.sleep(0.5)


def base_env(**extra: str) -> dict[str, str]:
    """This environment without KNEO_SERV_* settings, plus the test keys, allowlist and fast sweeps."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KNEO_SERV_")}
    env.update(
        KNEO_SERV_API_KEYS=API_KEYS_ENV,
        KNEO_SERV_ADMIN_API_KEY=KEYS["admin"],
        KNEO_SERV_ALLOWED_MODULES="tests.support",
        KNEO_SERV_RECONCILE_INTERVAL_SECONDS="1",
        KNEO_SERV_RECONCILE_STALE_SECONDS="2",
        KNEO_SERV_LEASE_GRACE_SECONDS="2",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def topology_env(database_url: str, redis_db: int, **extra: str) -> dict[str, str]:
    broker = REDIS_URL.rsplit("/", 1)[0] + f"/{redis_db}"
    return base_env(**{"KNEO_SERV_DATABASE_URL": database_url, "KNEO_SERV_BROKER_URL": broker, **extra})


def start_topology(tmp: Path, database_url: str, redis_db: int = 0, **extra: str) -> Topology:
    """gunicorn + Celery worker + beat on ``database_url`` and a private Redis broker."""
    process, broker = start_private_redis(tmp / "redis")
    env = topology_env(database_url, redis_db, **extra)
    if "KNEO_SERV_BROKER_URL" not in extra:
        env["KNEO_SERV_BROKER_URL"] = broker
    topology = Topology(env, free_port(), tmp, worker_concurrency=2)
    topology.processes["redis"] = process
    try:
        topology.start()
    except BaseException:
        topology.stop()
        raise
    topology.processes["redis"] = topology.processes.pop("redis")  # stopped last
    return topology


@dataclass(frozen=True)
class TopologyOptions:
    """What a test module's topology adds to the defaults (the parameters of the ``stack`` fixture).

    ``env`` is added to the test environment; ``{workdir}`` in a value becomes the topology's
    work directory. ``workers`` and ``beats`` start that many more of each beside the first;
    ``flower`` and ``nginx`` start Flower and an nginx front on free ports.
    """

    env: Mapping[str, str] = field(default_factory=dict)
    workers: int = 0
    beats: int = 0
    flower: bool = False
    nginx: bool = False


@contextmanager
def running_topology(workdir: Path, database_url: str, options: TopologyOptions) -> Iterator[Api]:
    """The topology ``options`` describe on ``database_url``, stopped (all its processes) on exit."""
    env = {name: value.replace("{workdir}", str(workdir)) for name, value in options.env.items()}
    topology = start_topology(workdir, database_url, **env)
    try:
        for number in range(options.workers):
            topology.start_worker(f"worker{number + 2}")
        for number in range(options.beats):
            topology.start_beat(f"beat{number + 2}")
        if options.flower:
            topology.start_flower(free_port())
        if options.nginx:
            topology.start_nginx(free_port())
        yield Api(topology.base_url, topology, database_url)
    finally:
        topology.stop()


def query(database_url: str, statement: str, *args: object) -> list[tuple[Any, ...]]:
    """Run one statement on ``database_url`` in its own transaction; returns the rows (if any)."""
    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(statement, args)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


class Api:
    """A tiny HTTP client with role keys."""

    def __init__(self, base_url: str, topology: Topology | None = None, database_url: str | None = None) -> None:
        self.base_url = base_url
        self.topology = topology
        self.database_url = database_url
        self.http = requests.Session()

    def sql(self, statement: str, *args: object) -> list[tuple[Any, ...]]:
        """Run one statement on the topology's database; returns the rows (if any)."""
        assert self.database_url, "this Api has no database"
        return query(self.database_url, statement, *args)

    def call(self, method: str, path: str, role: str | None = "operator", **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if role:
            headers["Authorization"] = f"Bearer {KEYS[role]}"
        return self.http.request(
            method, self.base_url + path, headers=headers, timeout=kwargs.pop("timeout", 60), **kwargs
        )

    def create_run(self, spec: dict[str, Any], text: str, **body: Any) -> dict[str, Any]:
        response = self.call("POST", "/v1/runs", json={"input": text, "spec": spec, **body})
        assert response.status_code == (202 if body.get("async_mode") else 200), response.text
        return response.json()

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/v1/runs/{run_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_status(self, run_id: str, statuses: set[str], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in statuses:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} is {run['status']} after {timeout}s, expected {statuses}")
            time.sleep(0.2)
