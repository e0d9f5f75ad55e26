"""The console under ``kneo serve`` (auth off): open without sign-in, and it says so."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import requests

from tests.embedded.server import EmbeddedServer
from tests.support import specs
from tests.support.services import Api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """``kneo serve`` as a newcomer starts it: no API keys, so auth is off."""
    server = EmbeddedServer(tmp_path_factory.mktemp("open"), KNEO_SERV_API_KEYS="", KNEO_SERV_ADMIN_API_KEY="")
    server.start()
    yield server
    server.stop()


def test_console_opens_without_sign_in_and_decides_a_task(open_server: EmbeddedServer) -> None:
    api = Api(open_server.base_url)
    run = api.call("POST", "/v1/runs", role=None, json={"input": "embedded console", "spec": specs.human_flow()}).json()
    assert run["status"] == "blocked"
    browser = requests.Session()
    runs = browser.get(open_server.base_url + "/console/runs", timeout=30)
    assert runs.status_code == 200 and "Auth is off: everyone is admin" in runs.text
    task = browser.get(open_server.base_url + f"/console/human/{run['continuation_id']}", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', task.text)
    request_id = re.search(r'name="request_id" value="([^"]+)"', task.text)
    assert token and request_id
    decided = browser.post(
        open_server.base_url + f"/console/human/{run['continuation_id']}/decide",
        data={"csrf_token": token.group(1), "request_id": request_id.group(1), "decision": "approved"},
        timeout=60,
    )
    assert decided.status_code == 200 and "Decision recorded: approved." in decided.text
    deadline = time.monotonic() + 60
    while api.call("GET", f"/v1/runs/{run['run_id']}", role=None).json()["status"] != "completed":
        assert time.monotonic() < deadline, "the approved run did not complete"
        time.sleep(0.2)
    health = browser.get(open_server.base_url + "/console/health", timeout=30)
    assert health.status_code == 200 and "ready" in health.text
