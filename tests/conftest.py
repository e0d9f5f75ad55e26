"""Shared fixtures: real PostgreSQL, Redis and process topologies (services are checked, never skipped)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import Api, ServiceMissing, check_services, create_database, drop_database, start_topology

_redis_dbs = itertools.count(1)


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        check_services()
    except ServiceMissing as exc:
        raise pytest.UsageError(f"required service missing: {exc}") from exc


@pytest.fixture
def database_url() -> Iterator[str]:
    url = create_database()
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def module_database_url() -> Iterator[str]:
    url = create_database()
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def stack(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """gunicorn + Celery worker + beat on PostgreSQL and Redis, shared by a test module."""
    topology = start_topology(tmp_path_factory.mktemp("stack"), module_database_url, next(_redis_dbs) % 16)
    api = Api(topology.base_url, topology, module_database_url)
    yield api
    topology.stop()


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    return tmp_path
