"""Random and mutated specs through the HTTP routes: an answer for every one, never a 5xx."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kneo.config import load_settings
from kneo.web import create_app
from tests.specs.test_properties import BASES, JSON, KEYS, _paths

ROUTES = ("/v1/specs/validate", "/v1/specs/compile", "/v1/specs/explain", "/v1/specs/policy-report")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    state = tmp_path_factory.mktemp("spec-props")
    app = create_app(load_settings({"KNEO_SERV_STATE_DIR": str(state), "KNEO_SERV_SPEC_ROOT": str(Path(state))}))
    yield app.test_client()


def check(client: FlaskClient, spec: Any) -> None:
    for route in ROUTES:
        response = client.post(route, json={"spec": spec})
        assert response.status_code < 500, (route, response.get_data(as_text=True)[:300])
        assert response.status_code in (200, 400, 404, 422), (route, response.status_code)
        if response.status_code != 200:
            assert "detail" in response.get_json()
    run = client.post("/v1/runs", json={"input": "property", "spec": spec, "async_mode": True})
    assert run.status_code in (202, 400, 404, 422), run.get_data(as_text=True)[:300]


@SETTINGS
@given(st.dictionaries(st.sampled_from(KEYS), JSON, max_size=6))
def test_random_specs_get_an_answer_never_a_5xx(client: FlaskClient, value: dict[str, Any]) -> None:
    check(client, value)


@SETTINGS
@given(st.data())
def test_mutated_valid_specs_get_an_answer_never_a_5xx(client: FlaskClient, data: st.DataObject) -> None:
    spec = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    path = data.draw(st.sampled_from([p for p in _paths(spec) if p]))
    parent: Any = spec
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = data.draw(JSON)
    check(client, spec)
