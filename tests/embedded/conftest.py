"""Fixtures: the real ``kneo serve`` process on a temporary state directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.embedded.server import EmbeddedServer
from tests.support.services import Api

SLOW_SECONDS = "3"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A fresh, not yet started server (tests that restart it start it themselves)."""
    embedded = EmbeddedServer(tmp_path, KNEO_TEST_MARKER_DIR=str(tmp_path), KNEO_TEST_SLOW_SECONDS=SLOW_SECONDS)
    yield embedded
    embedded.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    workdir = tmp_path_factory.mktemp("embedded")
    embedded = EmbeddedServer(workdir, KNEO_TEST_MARKER_DIR=str(workdir), KNEO_TEST_SLOW_SECONDS=SLOW_SECONDS)
    embedded.start()
    yield embedded
    assert embedded.stop() == 0, "kneo serve did not shut down cleanly on SIGTERM"


@pytest.fixture
def api(shared_server: EmbeddedServer) -> Api:
    return Api(shared_server.base_url)
