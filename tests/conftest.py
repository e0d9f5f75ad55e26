"""Shared fixtures: real PostgreSQL, Redis and process topologies (services are checked, never skipped).

The fast tier's fixtures (``fast_database``, ``sessions``, ``db``, ``settings_fast``, ``worker``,
``step_messages``) run use cases and task bodies on one migrated PostgreSQL database, each test
inside a transaction that is rolled back at its end (``tests/support/rollback.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.services import (
    Api,
    ServiceMissing,
    TopologyOptions,
    check_services,
    create_database,
    drop_database,
    running_topology,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from kneo.config import Settings
    from kneo.tasks.runtime import WorkerRuntime


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        check_services()
    except ServiceMissing as exc:
        raise pytest.UsageError(f"required service missing: {exc}") from exc


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the topology is end to end, whether or not its module says so."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


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
def topology_options() -> TopologyOptions:
    """The parameters of this module's ``stack``; a module (or directory conftest) overrides this
    fixture to change them, and may depend on other fixtures to do so."""
    return TopologyOptions()


@pytest.fixture(scope="module")
def stack(
    topology_options: TopologyOptions, module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """gunicorn + Celery worker + beat on PostgreSQL and a private Redis, shared by a test module:
    the one topology fixture, parametrised by ``topology_options``."""
    with running_topology(tmp_path_factory.mktemp("stack"), module_database_url, topology_options) as api:
        yield api


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def fast_database() -> Iterator[tuple[str, Engine]]:
    """The fast tier's database, migrated once per test session: its URL and engine."""
    from tests.support.rollback import migrated_engine

    url = create_database()
    try:
        with migrated_engine(url) as engine:
            yield url, engine
    finally:
        drop_database(url)


@pytest.fixture
def sessions(fast_database: tuple[str, Engine]) -> Iterator[sessionmaker[Session]]:
    """Sessions joined into this test's transaction, which is rolled back when the test ends."""
    from tests.support.rollback import joined_sessions, rolled_back

    with rolled_back(fast_database[1]) as connection:
        yield joined_sessions(connection)


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One session in this test's rolled-back transaction."""
    with sessions() as session:
        yield session


@pytest.fixture
def settings_fast(fast_database: tuple[str, Engine]) -> Settings:
    """Worker settings on the fast tier's database with the in-process memory broker."""
    from tests.support.rollback import fast_settings

    return fast_settings(fast_database[0])


@pytest.fixture
def step_messages() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Takes the step messages sent since the last call off the in-process broker (empty at the start)."""
    from tests.support.rollback import drain_step_messages

    drain_step_messages()
    yield drain_step_messages
    drain_step_messages()


@pytest.fixture
def worker(settings_fast: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> WorkerRuntime:
    """This process's worker runtime, its sessions joined into the test's transaction."""
    from kneo.tasks import runtime
    from tests.support.rollback import worker_runtime

    installed = worker_runtime(settings_fast, sessions)
    monkeypatch.setattr(runtime, "_runtime", installed)
    return installed
