"""Bad input on every route gets the contract's 4xx envelope (§2), never a 500, and writes nothing."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest
import requests

from tests.support import specs
from tests.support.services import KEYS, Api

pytestmark = pytest.mark.e2e

TABLES = (
    "runs",
    "step_runs",
    "checkpoints",
    "trace_events",
    "audit_events",
    "human_tasks",
    "idempotency_records",
    "environment_policies",
)
PREFIXES, MAX_BODY = ["", "/v1"], 1_048_576
SPEC: dict[str, Any] = {"version": "v1", "agent": {"name": "a"}}
BIG_SPEC: dict[str, Any] = {"version": "v1", "agent": {"name": "a", "description": "y" * 270_000}}
LONG = "p" * 4097
RUN_BODY: dict[str, Any] = {"input": "x", "spec": SPEC}
RESUME_BODY: dict[str, Any] = {"request_id": "not-the-request", "decision": "approved"}
# (method, path template, a body that passes schema validation)
BODY_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/runs", RUN_BODY),
    ("POST", "/specs/run", RUN_BODY),
    *[("POST", f"/specs/{name}", {"spec": SPEC}) for name in ("validate", "compile", "explain", "policy-report")],
    ("POST", "/human-tasks/{task}/resume", RESUME_BODY),
    ("PUT", "/policies/environment/dev", {}),
]
ALL_ROUTES: list[tuple[str, str]] = [
    ("GET", "/runs"),
    ("GET", "/runs/{run}"),
    ("POST", "/runs/{run}/cancel"),
    ("POST", "/runs/{run}/continue"),
    ("GET", "/runs/{run}/trace"),
    ("GET", "/runs/{run}/checkpoints"),
    ("GET", "/runs/{run}/checkpoints/diff"),
    ("GET", "/runs/{run}/replay"),
    ("GET", "/runs/{run}/recovery"),
    ("GET", "/runs/{run}/policy-report"),
    ("GET", "/human-tasks"),
    ("GET", "/human-tasks/{task}"),
    ("GET", "/audit-events"),
    ("GET", "/security/credentials"),
    ("GET", "/policies/environment"),
    ("GET", "/policies/environment/dev"),
    *[(method, path) for method, path, _ in BODY_ROUTES],
]
Send = Callable[..., requests.Response]


@pytest.fixture(scope="module")
def counts(stack: Api, module_database_url: str) -> Iterator[Callable[[], dict[str, int]]]:
    conn = psycopg2.connect(module_database_url)
    conn.autocommit = True

    def snapshot() -> dict[str, int]:
        with conn.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES))
            return {name: int(count) for name, count in cursor.fetchall()}

    yield snapshot
    conn.close()


@pytest.fixture(scope="module")
def ids(stack: Api, counts: Callable[[], dict[str, int]]) -> dict[str, str]:
    """A run blocked on a human step (real ids for routes whose bad input needs an existing resource)."""
    created = stack.create_run(specs.human_flow(), "draft")
    assert created["status"] == "blocked", created
    previous: dict[str, int] = {}
    deadline = time.monotonic() + 10
    while (current := counts()) != previous and time.monotonic() < deadline:
        previous = current
        time.sleep(0.5)
    return {"run": created["run_id"], "task": created["continuation_id"], "missing": str(uuid.uuid4())}


@pytest.fixture
def send(stack: Api, counts: Callable[[], dict[str, int]], ids: dict[str, str]) -> Send:
    """Send one request; assert its status, the X-Request-ID header and that no table changed."""

    def call(method: str, path: str, expect: int, role: str | None = "admin", **kwargs: Any) -> requests.Response:
        before = counts()
        response = stack.call(method, path.format(**ids), role=role, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text[:600])
        assert response.headers.get("X-Request-ID"), "every response carries X-Request-ID"
        assert counts() == before, f"{method} {path} wrote to the database"
        return response

    return call


def validation_error(response: requests.Response, type_: str, loc: list[Any] | None = None) -> None:
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    for item in detail:
        assert {"type", "loc", "msg"} <= set(item), item
    matches = [item for item in detail if item["type"] == type_ and (loc is None or item["loc"][: len(loc)] == loc)]
    assert matches, f"no {type_} at {loc} in {detail}"


def service_error(response: requests.Response, error: str | None = None) -> dict[str, Any]:
    detail = response.json()["detail"]
    assert isinstance(detail, dict) and isinstance(detail.get("message"), str), detail
    assert error is None or detail["error"] == error, detail
    return detail


def raw(body: str | bytes) -> dict[str, Any]:
    data = body.encode() if isinstance(body, str) else body
    return {"data": data, "headers": {"Content-Type": "application/json"}}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path", "_body"), BODY_ROUTES)
@pytest.mark.parametrize("body", ["{bad", '{"input": "x",}', b'{"input": "\xff"}'], ids=["syntax", "comma", "utf8"])
def test_malformed_json(send: Send, prefix: str, method: str, path: str, _body: object, body: str | bytes) -> None:
    validation_error(send(method, prefix + path, 422, **raw(body)), "json_invalid", ["body"])


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path", "_body"), BODY_ROUTES)
@pytest.mark.parametrize("body", ["[]", '["input"]', '"text"', "5", "true", "null"])
def test_non_object_body(send: Send, prefix: str, method: str, path: str, _body: object, body: str) -> None:
    validation_error(send(method, prefix + path, 422, **raw(body)), "model_attributes_type", ["body"])


WRONG_TYPES: list[tuple[str, str, dict[str, Any], str, list[Any]]] = [
    ("POST", "/runs", {"input": 5, "spec": SPEC}, "string_type", ["body", "input"]),
    ("POST", "/runs", {"input": None, "spec": SPEC}, "none_forbidden", ["body", "input"]),
    ("POST", "/runs", {"input": "x", "spec": "yaml"}, "dict_type", ["body", "spec"]),
    ("POST", "/runs", {**RUN_BODY, "async_mode": "maybe"}, "bool_parsing", ["body", "async_mode"]),
    ("POST", "/runs", {**RUN_BODY, "target": "robot"}, "literal_error", ["body", "target"]),
    ("POST", "/runs", {**RUN_BODY, "overlays": "a.yaml"}, "list_type", ["body", "overlays"]),
    ("POST", "/runs", {**RUN_BODY, "overlays": [1]}, "string_type", ["body", "overlays", 0]),
    ("POST", "/runs", {**RUN_BODY, "overrides": []}, "dict_type", ["body", "overrides"]),
    ("POST", "/runs", {**RUN_BODY, "metadata": "m"}, "dict_type", ["body", "metadata"]),
    ("POST", "/runs", {**RUN_BODY, "timeout_seconds": 0}, "greater_than_equal", ["body", "timeout_seconds"]),
    ("POST", "/runs", {**RUN_BODY, "timeout_seconds": "soon"}, "int_parsing", ["body", "timeout_seconds"]),
    ("POST", "/specs/run", {"input": ["x"], "spec": SPEC}, "string_type", ["body", "input"]),
    ("POST", "/specs/validate", {"spec": []}, "dict_type", ["body", "spec"]),
    ("POST", "/specs/validate", {"spec": SPEC, "overlays": [1]}, "string_type", ["body", "overlays", 0]),
    ("POST", "/specs/compile", {"spec": SPEC, "strict": "very"}, "bool_parsing", ["body", "strict"]),
    ("POST", "/specs/explain", {"spec_path": 5}, "string_type", ["body", "spec_path"]),
    ("POST", "/specs/policy-report", {"spec": SPEC, "environment": 1}, "string_type", ["body", "environment"]),
    ("POST", "/human-tasks/{task}/resume", {**RESUME_BODY, "decision": "no"}, "literal_error", ["body", "decision"]),
    ("POST", "/human-tasks/{task}/resume", {**RESUME_BODY, "content": 5}, "string_type", ["body", "content"]),
    ("POST", "/human-tasks/{task}/resume", {**RESUME_BODY, "metadata": []}, "dict_type", ["body", "metadata"]),
    ("PUT", "/policies/environment/dev", {"enabled": "perhaps"}, "bool_parsing", ["body", "enabled"]),
    (
        "PUT",
        "/policies/environment/dev",
        {"blocked_diagnostic_codes": "E1"},
        "list_type",
        ["body", "blocked_diagnostic_codes"],
    ),
    (
        "PUT",
        "/policies/environment/dev",
        {"blocked_diagnostic_codes": [1]},
        "string_type",
        ["body", "blocked_diagnostic_codes", 0],
    ),
    ("POST", "/specs/explain", {"spec": SPEC, "environment": "dev"}, "extra_forbidden", ["body", "environment"]),
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path", "body", "type_", "loc"), WRONG_TYPES)
def test_wrong_types(
    send: Send, prefix: str, method: str, path: str, body: dict[str, Any], type_: str, loc: list[Any]
) -> None:
    validation_error(send(method, prefix + path, 422, json=body), type_, loc)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path", "body"), BODY_ROUTES)
def test_unknown_fields(send: Send, prefix: str, method: str, path: str, body: dict[str, Any]) -> None:
    validation_error(send(method, prefix + path, 422, json={**body, "bogus": 1}), "extra_forbidden", ["body", "bogus"])


MISSING: list[tuple[str, str, dict[str, Any], int, Any]] = [
    ("POST", "/runs", {}, 422, ["body", "input"]),
    ("POST", "/runs", {"spec": SPEC}, 422, ["body", "input"]),
    ("POST", "/specs/run", {"spec": SPEC}, 422, ["body", "input"]),
    ("POST", "/human-tasks/{task}/resume", {"decision": "approved"}, 422, ["body", "request_id"]),
    ("POST", "/human-tasks/{task}/resume", {"request_id": "r"}, 422, ["body", "decision"]),
    ("POST", "/runs", {"input": "x"}, 400, "Either spec_path or spec must be provided."),
    ("POST", "/specs/run", {"input": "x", "spec": None}, 400, "Either spec_path or spec must be provided."),
    ("POST", "/specs/validate", {}, 400, "Either spec or spec_path is required."),
    ("POST", "/specs/compile", {"overrides": {"a": 1}}, 400, "Either spec or spec_path is required."),
    ("POST", "/specs/explain", {}, 400, "Either spec or spec_path is required."),
    ("POST", "/specs/policy-report", {"spec_path": ""}, 400, "Either spec or spec_path is required."),
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path", "body", "status", "where"), MISSING)
def test_missing_required(
    send: Send, prefix: str, method: str, path: str, body: dict[str, Any], status: int, where: Any
) -> None:
    response = send(method, prefix + path, status, json=body)
    if status == 422:
        validation_error(response, "missing", where)
    else:
        assert service_error(response, "ValueError")["message"] == where


def assert_too_large(response: requests.Response) -> None:
    assert response.json() == {
        "detail": {
            "error": "payload_too_large",
            "message": f"Request body exceeds maximum size of {MAX_BODY} bytes.",
            "max_body_bytes": MAX_BODY,
        }
    }


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path", "_body"), BODY_ROUTES)
@pytest.mark.parametrize("role", [None, "viewer", "admin"])
def test_oversized_by_content_length_before_auth(
    send: Send, prefix: str, method: str, path: str, _body: object, role: str | None
) -> None:
    body = '{"input": "' + "x" * MAX_BODY + '"}'
    assert_too_large(send(method, prefix + path, 413, role=role, **raw(body)))


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"input": "'
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)
    yield b'"}'


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path", "_body"), BODY_ROUTES)
def test_oversized_chunked_without_content_length(
    send: Send, prefix: str, method: str, path: str, _body: object
) -> None:
    response = send(
        method, prefix + path, 413, data=chunks(MAX_BODY + 10_000), headers={"Content-Type": "application/json"}
    )
    assert "Content-Length" not in response.request.headers
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert_too_large(response)


def test_chunked_body_is_not_silently_truncated_to_the_limit(send: Send) -> None:
    """Valid JSON followed by whitespace beyond the limit: the first MAX_BODY bytes alone would parse."""
    padding = (b" " * 65_536 for _ in range(MAX_BODY // 65_536 + 1))
    body = itertools.chain([json.dumps(RUN_BODY).encode()], padding)
    assert_too_large(send("POST", "/v1/runs", 413, data=body, headers={"Content-Type": "application/json"}))


def test_small_chunked_body_is_parsed(send: Send) -> None:
    body = iter([b'{"input": "x", ', b'"spec": {"version": "v1", "agent": {"name": "a"}}, ', b'"bogus": 1}'])
    response = send("POST", "/v1/runs", 422, data=body, headers={"Content-Type": "application/json"})
    validation_error(response, "extra_forbidden", ["body", "bogus"])


SPEC_LIMITS: list[tuple[dict[str, Any], str]] = [
    ({"spec": BIG_SPEC}, "spec"),
    ({"spec": SPEC, "overrides": {"pad": "o" * 66_000}}, "overrides"),
    ({"spec": SPEC, "overlays": ["a.yaml"] * 101}, "overlays"),
    ({"spec": SPEC, "overlays": [LONG]}, "overlays"),
    ({"spec": SPEC, "spec_path": LONG}, "spec_path"),
    ({"spec": SPEC, "environment": LONG}, "environment"),
]
LIMITS: list[tuple[str, str, dict[str, Any], str]] = [
    *[
        ("POST", route, {"input": "x", **body}, field)
        for route in ("/runs", "/specs/run")
        for body, field in [*SPEC_LIMITS, ({"spec": SPEC, "metadata": {"pad": "m" * 33_000}}, "metadata")]
    ],
    *[("POST", route, {**RUN_BODY, "input": "i" * 20_001}, "input") for route in ("/runs", "/specs/run")],
    *[
        ("POST", route, body, field)
        for route in ("/specs/validate", "/specs/compile", "/specs/policy-report")
        for body, field in SPEC_LIMITS
    ],
    ("POST", "/specs/explain", {"spec": BIG_SPEC}, "spec"),
    ("POST", "/specs/explain", {"spec": SPEC, "spec_path": LONG}, "spec_path"),
    ("POST", "/human-tasks/{task}/resume", {**RESUME_BODY, "content": "c" * 20_001}, "content"),
    ("POST", "/human-tasks/{task}/resume", {**RESUME_BODY, "metadata": {"pad": "m" * 33_000}}, "metadata"),
    *[("POST", "/human-tasks/{task}/resume", {**RESUME_BODY, f: LONG}, f) for f in ("request_id", "selected_option")],
    ("PUT", "/policies/environment/dev", {"blocked_diagnostic_codes": ["E1"] * 101}, "blocked_diagnostic_codes"),
    ("PUT", "/policies/environment/dev", {"blocked_diagnostic_codes": [LONG]}, "blocked_diagnostic_codes"),
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path", "body", "field"), LIMITS)
def test_over_limit_fields(send: Send, prefix: str, method: str, path: str, body: dict[str, Any], field: str) -> None:
    response = send(method, prefix + path, 422, json=body)
    validation_error(response, "value_error", ["body", field])
    assert any("exceeds maximum" in item["msg"] for item in response.json()["detail"])


UNKNOWN_IDS: list[tuple[str, str, dict[str, Any] | None]] = [
    *[
        ("GET", f"/runs/{{missing}}{sub}", None)
        for sub in ("", "/trace", "/checkpoints", "/checkpoints/diff", "/replay", "/recovery", "/policy-report")
    ],
    ("POST", "/runs/{missing}/cancel", None),
    ("POST", "/runs/{missing}/continue", None),
    ("GET", "/human-tasks/{missing}", None),
    ("POST", "/human-tasks/{missing}/resume", RESUME_BODY),
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path", "body"), UNKNOWN_IDS)
def test_unknown_ids(
    send: Send, ids: dict[str, str], prefix: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    assert ids["missing"] in service_error(send(method, prefix + path, 404, json=body), "KeyError")["message"]


PAGE_QUERIES = [
    ("limit=0", "limit"),
    ("limit=5000", "limit"),
    ("limit=abc", "limit"),
    ("offset=-1", "offset"),
    ("offset=10001", "offset"),
    ("sort_order=sideways", "sort_order"),
    ("sort_by=nope", None),
]
BAD_QUERIES: list[tuple[str, str, str | None]] = [
    *[
        (path, query, field)
        for path in ("/runs", "/runs/{run}/checkpoints", "/runs/{run}/trace", "/human-tasks")
        for query, field in PAGE_QUERIES
    ],
    ("/human-tasks", "escalated=maybe", "escalated"),
    *[("/audit-events", query, field) for query, field in PAGE_QUERIES[:5]],
    ("/runs/{run}/checkpoints/diff", "from_sequence=0", "from_sequence"),
    ("/runs/{run}/checkpoints/diff", "to_sequence=0", "to_sequence"),
    ("/runs/{run}/checkpoints/diff", "from_sequence=-3", "from_sequence"),
    ("/runs/{run}/checkpoints/diff", "from_sequence=abc", "from_sequence"),
    ("/security/credentials", "include_service_tokens=maybe", "include_service_tokens"),
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("path", "query", "field"), BAD_QUERIES)
def test_bad_query_values(send: Send, prefix: str, path: str, query: str, field: str | None) -> None:
    response = send("GET", f"{prefix}{path}?{query}", 422)
    if field is None:
        assert service_error(response, "invalid_sort_by")["allowed"]
    else:
        detail = response.json()["detail"]
        assert [item["loc"] for item in detail] == [["query", field]], detail


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/runs", "limit=5000"),
        ("/runs", "offset=10001"),
        ("/human-tasks", "limit=1001"),
        ("/audit-events", "limit=5000"),
    ],
)
def test_upper_bound_violation_type_is_less_than_equal(send: Send, path: str, query: str) -> None:
    validation_error(send("GET", f"/v1{path}?{query}", 422), "less_than_equal")


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    ("method", "path", "status", "error", "kwargs"),
    [
        ("GET", "/runs/{run}/checkpoints/diff?from_sequence=99", 400, "ValueError", {}),
        ("GET", "/runs/{run}/checkpoints/diff?from_sequence=1&to_sequence=1", 400, "ValueError", {}),
        ("POST", "/runs/{run}/continue", 409, None, {}),
        ("POST", "/human-tasks/{task}/resume", 422, None, {"json": RESUME_BODY}),
        ("POST", "/human-tasks/{task}/resume", 422, None, {"json": {"request_id": "r", "decision": "selected"}}),
        ("POST", "/runs", 422, None, {"json": {"input": "x", "spec": {"version": "v1"}}}),
        ("POST", "/specs/run", 422, None, {"json": {"input": "x", "spec": {"version": "v1", "agent": {}}}}),
        ("POST", "/runs", 400, None, {"json": {"input": "x", "spec": {"version": "v2"}}}),
        ("POST", "/runs", 422, None, {"json": {"input": "x", "spec_path": "/etc/passwd"}}),
        ("POST", "/runs", 404, None, {"json": {"input": "x", "spec_path": "no/such/spec.yaml"}}),
        ("POST", "/specs/compile", 422, None, {"json": {"spec": {"version": "v1"}}}),
        ("POST", "/specs/explain", 422, None, {"json": {"spec": {"version": "v1"}}}),
        ("GET", "/policies/environment/" + "e" * 129, 422, None, {}),
        ("PUT", "/policies/environment/" + "e" * 129, 422, None, {"json": {}}),
        *[
            (
                "POST",
                path,
                400,
                "invalid_idempotency_key",
                {"json": body, "headers": {"Idempotency-Key": "k" * 257 + " "}},
            )
            for path, body in (
                ("/runs", RUN_BODY),
                ("/specs/run", RUN_BODY),
                ("/human-tasks/{task}/resume", RESUME_BODY),
            )
        ],
    ],
)
def test_domain_rejections_write_nothing(
    send: Send, prefix: str, method: str, path: str, status: int, error: str | None, kwargs: dict[str, Any]
) -> None:
    service_error(send(method, prefix + path, status, **kwargs), error)


@pytest.mark.parametrize("role", [None, "admin"])
@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/v1/nope",
        "/v2/runs",
        "/v1/runs/a/b/c",
        "/v1/human-tasks/x/approve",
        "/v1/audit",
        "/v1/policies/environments",
        "/v1/health",
    ],
)
def test_unknown_route(send: Send, role: str | None, path: str) -> None:
    assert send("POST" if "approve" in path else "GET", path, 404, role=role).json() == {"detail": "Not Found"}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/runs", "POST"),
        ("PUT", "/runs/{run}", "GET"),
        ("GET", "/runs/{run}/cancel", "POST"),
        ("POST", "/runs/{run}/replay", "GET"),
        ("GET", "/specs/validate", "POST"),
        ("POST", "/audit-events", "GET"),
        ("DELETE", "/policies/environment/dev", "PUT"),
        ("PATCH", "/human-tasks", "GET"),
        ("GET", "/human-tasks/{task}/resume", "POST"),
        ("POST", "/policies/environment", "GET"),
    ],
)
def test_wrong_method(send: Send, prefix: str, method: str, path: str, allowed: str) -> None:
    response = send(method, prefix + path, 405)
    assert response.json() == {"detail": "Method Not Allowed"}
    assert allowed in {m.strip() for m in response.headers["Allow"].split(",")}
    assert method not in response.headers["Allow"]


UNAUTHENTICATED: list[dict[str, str]] = [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": "Bearer "},
    {"X-Kneo-Api-Key": "wrong"},
    {"Authorization": "Bearer wrong", "X-Kneo-Api-Key": KEYS["admin"]},
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("method", "path"), ALL_ROUTES)
@pytest.mark.parametrize("headers", UNAUTHENTICATED, ids=["none", "wrong", "empty", "header", "bearer-wins"])
def test_missing_or_wrong_key(send: Send, prefix: str, method: str, path: str, headers: dict[str, str]) -> None:
    response = send(method, prefix + path, 401, role=None, headers=headers, json={})
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {
        "detail": {"error": "unauthorized", "message": "A valid Kneo service API key is required."}
    }


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    ("role", "method", "path", "scope"),
    [
        ("viewer", "POST", "/runs", "runs:write"),
        ("reviewer", "POST", "/specs/run", "runs:write"),
        ("viewer", "POST", "/runs/{run}/cancel", "runs:write"),
        ("reviewer", "POST", "/runs/{run}/continue", "runs:write"),
        *[
            ("reviewer", "POST", f"/specs/{n}", "specs:read")
            for n in ("validate", "compile", "explain", "policy-report")
        ],
        ("reviewer", "GET", "/runs/{run}/policy-report", "specs:read"),
        ("viewer", "GET", "/security/credentials", "credentials:read"),
        *[(role, "POST", "/human-tasks/{task}/resume", "human:write") for role in ("operator", "viewer")],
        ("reviewer", "GET", "/policies/environment", "policies:read"),
        ("viewer", "GET", "/policies/environment/dev", "policies:read"),
        ("service", "PUT", "/policies/environment/dev", "policies:write"),
    ],
)
def test_wrong_scope(send: Send, prefix: str, role: str, method: str, path: str, scope: str) -> None:
    body = next((b for m, p, b in BODY_ROUTES if (m, p) == (method, path)), None)
    response = send(method, prefix + path, 403, role=role, json=body)
    assert response.json() == {
        "detail": {"error": "forbidden", "message": f"Missing required scope: {scope}", "required_scope": scope}
    }


def test_request_id_is_echoed_on_errors(send: Send) -> None:
    response = send("GET", "/v1/runs?limit=0", 422, headers={"X-Request-ID": "req-bad-input-1"})
    assert response.headers["X-Request-ID"] == "req-bad-input-1"
