"""/openapi.json tells the truth: schemathesis checks real answers of every operation against it.

The topology (gunicorn + Celery + PostgreSQL) is seeded with runs of several kinds, open human
tasks and a stored policy. Each operation is then called with known-good requests (so every
success body is checked), then fuzzed: valid requests on the seeded resources and on generated
ones, and invalid requests. Every answer must conform to the document (status code, content type,
body schema) and none may be a 5xx.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import specs
from tests.support.services import KEYS, Api, TopologyOptions

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {KEYS['admin']}"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 5
"""Generated examples per operation and pass: valid requests on seeded resources, valid requests on
generated ones, invalid requests."""
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PREFIXES = ("/v1", "")


@dataclass
class Seeded:
    """Resources the operations can act on; the spares are consumed by the known-good calls."""

    runs: list[str]
    tasks: list[str]
    spare_tasks: list[dict[str, str]]
    failed: list[str]
    spec: dict[str, Any] = field(default_factory=lambda: specs.echo_chain(2))


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())  # type: ignore[no-any-return]


def failing_flow(marker: str) -> dict[str, Any]:
    """A sequential run that fails at its second step the first time (so it can be continued)."""
    step = specs.function_step("flaky", "marked")
    return specs.sequential(
        [{"id": "a0", "kind": "agent", "ref": "a0"}, step],
        agents=["a0"],
        functions={"marked": "tests.support.functions.fail_once_per_marker"},
        name=f"fails-once-{marker}",
    )


def blocked_task(api: Api, text: str) -> dict[str, str]:
    created = api.create_run(specs.human_flow(), text)
    assert created["status"] == "blocked", created
    task = api.call("GET", f"/v1/human-tasks/{created['continuation_id']}", role="admin").json()["task"]
    return {"id": task["id"], "request_id": task["pending_human_request_id"], "run_id": created["run_id"]}


def seed(api: Api) -> Seeded:
    runs = [api.create_run(specs.echo_chain(2), "sequential")["run_id"]]
    for name in ("graph_triage", "concurrent_fanout", "group_chat_debate", "nested_workflows"):
        runs.append(api.create_run(example(name), name)["run_id"])
    runs.append(api.create_run(specs.echo_chain(1), "queued", async_mode=True)["run_id"])
    runs.append(api.create_run(specs.echo_chain(1), "agent only", target="agent", session_id="s-1")["run_id"])
    failed = []
    for marker in ("conformance-v1", "conformance-root"):
        run_id = api.create_run(failing_flow(marker), marker, async_mode=True)["run_id"]
        assert api.wait_status(run_id, {"failed", "completed"})["status"] == "failed"
        failed.append(run_id)
    open_task = blocked_task(api, "reviewed by the fuzzer")
    spares = [blocked_task(api, f"resumed through {prefix or '/'}") for prefix in PREFIXES]
    policy = api.call("PUT", "/v1/policies/environment/staging", role="admin", json={"require_human_review": True})
    assert policy.status_code == 200, policy.text
    assert api.call("GET", "/v1/skills", role="admin").json()["total"] >= 1, "the skill catalog is empty"
    runs += [*failed, open_task["run_id"]]
    return Seeded(runs=runs, tasks=[open_task["id"]], spare_tasks=spares, failed=failed)


def good_requests(path: str, method: str, seeded: Seeded) -> Iterator[dict[str, Any]]:
    """Known-good requests of one operation (``path`` without its prefix): each must succeed."""
    spec = seeded.spec
    if "{run_id}" in path:
        if path.endswith("/continue"):
            yield {"path_parameters": {"run_id": seeded.failed.pop()}}
            return
        # Cancelling leaves the blocked runs alone: their tasks are still to be read and resumed.
        for run_id in seeded.runs[:1] if path.endswith("/cancel") else seeded.runs:
            yield {"path_parameters": {"run_id": run_id}}
    elif path in ("/runs", "/specs/run") and method == "POST":
        yield {"body": {"input": "documented", "spec": spec}}
        yield {"body": {"input": "later", "spec": spec, "async_mode": True}}
        key = {"Idempotency-Key": f"conformance-{path}-{method}"}
        for _ in range(2):
            yield {"body": {"input": "once", "spec": spec}, "headers": key}
    elif path == "/human-tasks/{continuation_id}/resume":
        task = seeded.spare_tasks.pop()
        yield {
            "path_parameters": {"continuation_id": task["id"]},
            "body": {"request_id": task["request_id"], "decision": "approved"},
        }
    elif "{continuation_id}" in path:
        yield {"path_parameters": {"continuation_id": seeded.tasks[0]}}
    elif "{environment}" in path:
        yield {"path_parameters": {"environment": "staging"}, **({"body": {}} if method != "GET" else {})}
    elif path.startswith("/specs/"):
        yield {"body": {"spec": spec}}
        if path in ("/specs/validate", "/specs/policy-report"):
            yield {"body": {"spec": {"version": "v1"}}}
    elif path == "/human-tasks":
        yield {}
        yield {"query": {"status": "all"}}
    elif path == "/audit-events":
        yield {"query": {"include_hashes": "true", "limit": 20}}
    elif path == "/security/credentials":
        yield {"query": {"include_service_tokens": "false"}}
        yield {}
    else:
        yield {}


def seeded_parameters(operation: Any, seeded: Seeded) -> list[dict[str, str]]:
    """Path parameters that name seeded resources (an empty list when the path has none)."""
    path = operation.path
    if "{run_id}" in path:
        return [{"run_id": run_id} for run_id in seeded.runs]
    if "{continuation_id}" in path:
        return [{"continuation_id": task} for task in seeded.tasks]
    if "{environment}" in path:
        return [{"environment": "staging"}]
    return []


def check(tally: Tally, operation: Any, case: Any, expect_success: bool = False) -> None:
    response = case.call(headers=AUTH, timeout=120)
    tally.statuses[response.status_code] += 1
    try:
        if expect_success:
            assert 200 <= response.status_code < 300, f"{response.status_code}: {response.text[:500]}"
        case.validate_response(response, checks=CHECKS)
    except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis reports a group of failures
        label = f"{operation.label} [{response.status_code}]"
        tally.failures.setdefault(label, f"{case.formatted_path} {case.query} {case.body!r:.300}\n{exc!s:.1200}")


def fuzz(tally: Tally, operation: Any, strategy: Any) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def run(case: Any) -> None:
        check(tally, operation, case)

    with contextlib.suppress(Unsatisfiable):  # no negative data for an operation that takes no input
        run()


@pytest.fixture(scope="module")
def topology_options() -> TopologyOptions:
    return TopologyOptions(
        env={
            "KNEO_SERV_ALLOWED_MODULES": "tests.support,examples",
            "KNEO_SERV_SKILLS_ROOT": str(Path(__file__).resolve().parents[1] / "specs" / "data"),
            "KNEO_TEST_MARKER_DIR": "{workdir}",
        }
    )


@pytest.fixture(scope="module")
def seeded_stack(stack: Api) -> tuple[Api, Seeded]:
    return stack, seed(stack)


def test_every_operation_conforms(seeded_stack: tuple[Api, Seeded]) -> None:
    api, seeded = seeded_stack
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    tally = Tally()
    # Changes first, so that the reads see resumed, continued and cancelled runs and decided tasks.
    for operation in sorted(operations, key=lambda op: op.method.upper() == "GET"):
        for request in good_requests(operation.path.removeprefix("/v1"), operation.method.upper(), seeded):
            check(tally, operation, operation.Case(**request), expect_success=True)
    for operation in operations:
        seeded_paths = seeded_parameters(operation, seeded)
        if seeded_paths:
            fuzz(tally, operation, st.one_of(*(operation.as_strategy(path_parameters=p) for p in seeded_paths)))
        fuzz(tally, operation, operation.as_strategy())
        fuzz(tally, operation, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    calls = sum(tally.statuses.values())
    print(f"\n{len(operations)} operations, {calls} calls, {calls * len(CHECKS)} checks, {dict(tally.statuses)}")
    assert len(operations) >= 60
    assert not tally.failures, "\n\n".join(f"{label}:\n{message}" for label, message in tally.failures.items())


@pytest.mark.parametrize(
    ("query", "headers", "status", "error"),
    [
        ({"q": "x" * 5000}, {}, 414, "uri_too_long"),
        ({}, {"X-Padding": "x" * 9000}, 431, "request_header_fields_too_large"),
    ],
)
def test_server_refusals_use_the_envelope(
    seeded_stack: tuple[Api, Seeded], query: dict[str, str], headers: dict[str, str], status: int, error: str
) -> None:
    """gunicorn refuses these before the application runs; the answer is still the documented envelope."""
    api, _ = seeded_stack
    response = api.call("GET", "/v1/runs", params=query, headers=headers)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["detail"]["error"] == error
