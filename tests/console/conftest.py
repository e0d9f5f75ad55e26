"""Console fixtures: the topology with a provider key set, and signed-in HTTP sessions."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import requests

from tests.support.services import KEYS, Api, TopologyOptions

PROVIDER_SECRET = "sk-console-test-0123456789abcdef"
CONSOLE_SECRET = "console-test-signing-secret"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def topology_options() -> TopologyOptions:
    """The example functions allowed, a console signing secret and a provider key configured."""
    return TopologyOptions(
        env={
            "KNEO_SERV_ALLOWED_MODULES": "tests.support,examples",
            "KNEO_SERV_CONSOLE_SECRET": CONSOLE_SECRET,
            "OPENAI_API_KEY": PROVIDER_SECRET,
        }
    )


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


class Browserless:
    """A signed-in console session driven with plain HTTP (forms posted as a browser posts them)."""

    def __init__(self, api: Api, role: str | None) -> None:
        self.base = api.base_url
        self.http = requests.Session()
        page = self.http.get(self.base + "/console/sign-in", timeout=30)
        if role is not None:
            answer = self.post("/console/sign-in", {"api_key": KEYS[role]}, csrf_from=page.text)
            assert answer.status_code == 200 and "/console/runs" in answer.url, answer.text[:500]

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=30)

    def post(self, path: str, form: dict[str, str], csrf_from: str | None = None) -> requests.Response:
        token = csrf_of(csrf_from if csrf_from is not None else self.get("/console/runs").text)
        return self.http.post(self.base + path, data={**form, "csrf_token": token}, timeout=60)


@pytest.fixture
def signed_in(stack: Api) -> Callable[[str | None], Browserless]:
    return lambda role: Browserless(stack, role)
