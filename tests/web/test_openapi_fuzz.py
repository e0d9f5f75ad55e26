"""Schemathesis over /openapi.json against the real topology: no 5xx, no response off its documented schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.support.services import KEYS, Api

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {KEYS['admin']}"}
EXAMPLES_PER_OPERATION = 15


def exercise(operation: Any) -> None:
    """Property test of one operation: every generated request gets a non-5xx, schema-conformant answer."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def run(case: Any) -> None:
        response = case.call(headers=AUTH, timeout=60)
        assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}"
        case.validate_response(response, checks=[response_schema_conformance])

    run()


def test_every_operation_conforms(stack: Api) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            exercise(operation)
        except Exception as exc:
            failures[operation.label] = str(exc)[:800]
    assert operations >= 50
    assert not failures, "\n\n".join(f"{label}:\n{message}" for label, message in failures.items())
